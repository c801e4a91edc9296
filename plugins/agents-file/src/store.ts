// Agent files read on demand: each file's parsed content is kept by its identity (inode, size, mtime, ctime), so
// an unchanged file is never parsed twice, and the last version that parsed keeps serving while a newer one is not
// valid JSON (an editor mid-save, a typo).
import { open, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import type { AgentConfig, KernelApi, RobutlerError } from '@robutler/kernel'
import { fileInvalid, nameMismatch } from './errors.js'

type Logger = KernelApi['log']

type Outcome = { config: AgentConfig } | { unparsable: string } | { error: RobutlerError }

interface Version {
  /** The file identity the outcome was read from. */
  key: string
  /** Reads are numbered so a slow read never overwrites what a later one found. */
  seq: number
  outcome: Outcome
}

interface Good {
  config: AgentConfig
  seq: number
}

/** Only what a kernel-validated agent name can be; anything else is no file of ours. */
const FILE_NAME = /^[^./\\][^/\\]*$/
const AGENT_FILE = /^([^./\\][^/\\]*)\.json$/

/** The agent a file in the folder holds (`support` for `support.json`), or null for any other file. */
export function agentOfFile(file: string): string | null {
  return AGENT_FILE.exec(file)?.[1] ?? null
}

function isMissing(error: any): boolean {
  return error?.code === 'ENOENT' || error?.code === 'ENOTDIR'
}

export class AgentFileStore {
  readonly dir: string
  readonly #log: Logger
  readonly #versions = new Map<string, Version>()
  readonly #good = new Map<string, Good>()
  #seq = 0

  constructor(dir: string, log: Logger) {
    this.dir = dir
    this.#log = log
  }

  fileOf(name: string): string {
    return join(this.dir, `${name}.json`)
  }

  /** Names this store has read a file for. */
  names(): string[] {
    return [...new Set([...this.#versions.keys(), ...this.#good.keys()])]
  }

  /** Drops what is known of a file's current version (not its last good one), so the next load reads it again. */
  forget(name: string): void {
    this.#versions.delete(name)
  }

  /**
   * The agent in `NAME.json`: null when there is no such file; the last good version when the file is not valid
   * JSON; a RBT_ERR_AGENT_INVALID error when the file is not an agent object or names another agent.
   */
  async load(name: string, signal?: AbortSignal): Promise<AgentConfig | null> {
    if (!FILE_NAME.test(name)) return null
    const seq = ++this.#seq
    const file = this.fileOf(name)
    let handle: FileHandle
    try {
      handle = await open(file, 'r')
    } catch (error) {
      if (!isMissing(error)) throw error
      this.#drop(name, seq)
      return null
    }
    try {
      // The identity comes from the open handle, so it describes exactly the bytes read below.
      const stat = await handle.stat()
      if (!stat.isFile()) {
        this.#drop(name, seq)
        return null
      }
      const key = `${stat.ino}:${stat.size}:${stat.mtimeMs}:${stat.ctimeMs}`
      const known = this.#versions.get(name)
      if (known?.key === key) return this.#answer(name, known)
      const text = await handle.readFile({ encoding: 'utf8', signal })
      const version: Version = { key, seq, outcome: this.#parse(name, file, text) }
      const current = this.#versions.get(name)
      if (!current || current.seq < seq) this.#versions.set(name, version)
      this.#rememberGood(name, version)
      return this.#answer(name, version)
    } finally {
      await handle.close()
    }
  }

  #parse(name: string, file: string, text: string): Outcome {
    let value: unknown
    try {
      value = JSON.parse(text)
    } catch (error: any) {
      const problem = error?.message ?? String(error)
      const serving = this.#good.has(name) ? 'its last good version keeps serving' : `agent '${name}' cannot be served until it is fixed`
      this.#log.warn({ file, agent: name, error: problem }, `agent file ${file} is not valid JSON (${problem}); ${serving}`)
      return { unparsable: problem }
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      return { error: fileInvalid(name, file, 'the file must hold one agent config, a JSON object') }
    }
    const inside = (value as { name?: unknown }).name
    if (inside !== undefined && inside !== name) return { error: nameMismatch(name, file, inside) }
    return { config: { ...(value as AgentConfig), name } }
  }

  #rememberGood(name: string, version: Version): void {
    const good = this.#good.get(name)
    if (good && good.seq > version.seq) return
    // Only a file that is not JSON falls back: one that parses is the author's intent, right or wrong.
    if ('config' in version.outcome) this.#good.set(name, { config: version.outcome.config, seq: version.seq })
    else if ('error' in version.outcome) this.#good.delete(name)
  }

  #answer(name: string, version: Version): AgentConfig {
    const outcome = version.outcome
    if ('config' in outcome) return outcome.config
    if ('error' in outcome) throw outcome.error
    const good = this.#good.get(name)
    if (good) return good.config
    throw fileInvalid(name, this.fileOf(name), `not valid JSON (${outcome.unparsable}), and there is no earlier version to serve`)
  }

  #drop(name: string, seq: number): void {
    const version = this.#versions.get(name)
    if (version && version.seq < seq) this.#versions.delete(name)
    const good = this.#good.get(name)
    if (good && good.seq < seq) this.#good.delete(name)
  }
}
