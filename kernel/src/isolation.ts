// Isolated skills: a skill whose config entry says `"isolate": true` (the default outside @robutler/) runs in a
// pool of its own processes, never in the server. Each process is forked under Node's permission model — read the
// skill's package and the node_modules it sits in, write only a scratch folder, no child processes, no workers —
// with the granted environment only. Its memory is watched from here (RSS, so Buffers count too) while it runs a
// call; a call that overruns it, the tool timeout, or crashes the process fails alone: the process is replaced and
// set up again for every agent before it takes another call. This module runs in the isolation host thread
// (isolation-host.ts), never on the server's event loop: forking a process from a large server can take tens of
// milliseconds of synchronous work, which /health must not wait for.
import { fork, type ChildProcess } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { setPriority, tmpdir } from 'node:os'
import { basename, dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Permissions } from '@robutler/registry'
import { ERR_POOL_SATURATED } from './errors.js'
import type { IsolateAnswer, IsolateRequest, IsolatedToolSpec } from './isolate-child.js'

export type { IsolatedToolSpec }

const CHILD = fileURLToPath(new URL('./isolate-child.js', import.meta.url))
/** The kernel's package folder: a skill imports `defineSkill` from it, so its processes may read it and its dependencies. */
const KERNEL_DIR = dirname(dirname(CHILD))
/** The registry, which the kernel imports: beside it when installed, elsewhere when a workspace links it. */
const REGISTRY_DIR = dirname(dirname(fileURLToPath(import.meta.resolve('@robutler/registry'))))
const PAGE_BYTES = 4096
const WATCH_EVERY_MS = 10
/** How long one agent's setup may take in a process. */
const SETUP_TIMEOUT_MS = 30_000
/** Replacements in a row that may fail to set up before the pool stops starting them. */
const MAX_FAILED_STARTS = 3
/** The niceness of isolated processes (the server's is 0). */
const ISOLATED_NICENESS = 10

/** Node 20 names the permission model `--experimental-permission`; later versions `--permission`. */
export const PERMISSION_FLAG = process.allowedNodeEnvironmentFlags.has('--permission') ? '--permission' : '--experimental-permission'
/** Whether this Node can deny the network to a process (`--allow-net`); Node 20 cannot. */
export const CAN_DENY_NETWORK = process.allowedNodeEnvironmentFlags.has('--allow-net')

export interface IsolationSettings {
  /** Processes per isolated skill. */
  processes: number
  /** Resident memory (RSS: heap and Buffers) a process may hold, in MB, before it is ended with its call. */
  memoryMb: number
  /** Calls that may wait for a free process before new ones get 503. */
  maxQueue: number
  /** The largest result, in bytes of its text: checked in the process, before it crosses. */
  maxResultBytes: number
}

export interface IsolatedSkillOptions {
  name: string
  /** The package folder (real path). */
  dir: string
  entry: string
  workerPath: string | null
  permissions: Permissions
  /** The server's environment: only the granted names are handed to the processes. */
  env: Readonly<Record<string, string | undefined>>
  version: string
  urlPrefix: string
  settings: IsolationSettings
  log: PoolLog
}

/** Where a pool logs: the host thread hands the lines to the server's logger. */
export interface PoolLog {
  info(object: Record<string, unknown>, message: string): void
  warn(object: Record<string, unknown>, message: string): void
  error(object: Record<string, unknown>, message: string): void
  debug(object: Record<string, unknown>, message: string): void
}

/** What one agent's setup gave: its tools (functions stay in the processes) and prompts. */
export interface IsolatedParts {
  tools: IsolatedToolSpec[]
  prompts?: unknown
}

interface Pending {
  resolve: (answer: IsolateAnswer) => void
  reject: (error: Error) => void
}

/** One process of the pool, and the calls it owes answers to (a setup per agent, or the one call it runs). */
interface Member {
  child: ChildProcess
  pending: Map<number, Pending>
  /** Set up for every agent so far; calls wait for it. */
  ready: Promise<void>
  busy: boolean
  ended: boolean
}

/** The folder whose node_modules holds the package (its dependencies are hoisted there), or the package alone. */
function modulesFolder(dir: string): string | null {
  for (let at = dirname(dir); at !== dirname(at); at = dirname(at)) if (basename(at) === 'node_modules') return at
  return null
}

/**
 * Resident bytes of a process, from /proc (Linux); null where there is no /proc. Read off the event loop: a process
 * busy faulting in memory can hold up a read of its counters.
 */
async function residentBytes(pid: number): Promise<number | null> {
  try {
    return Number((await readFile(`/proc/${pid}/statm`, 'utf8')).split(' ')[1]) * PAGE_BYTES
  } catch {
    // No /proc (macOS) or the process is gone: nothing to measure; --max-old-space-size still bounds the heap.
    return null
  }
}

/** The pool of one isolated skill. */
export class IsolatedPool {
  readonly #options: IsolatedSkillOptions
  readonly #members: Member[] = []
  readonly #setups = new Map<string, Extract<IsolateRequest, { type: 'setup' }>>()
  readonly #waiting: Array<(member: Member) => void> = []
  #nextId = 1
  #scratch: Promise<string>
  #closed = false
  /** Replacements in a row that failed to set up: past MAX_FAILED_STARTS, no more are started. */
  #failedStarts = 0
  #started: Promise<void> | null = null

  constructor(options: IsolatedSkillOptions) {
    this.#options = options
    this.#scratch = mkdtemp(join(tmpdir(), 'robutler-isolated-'))
  }

  /** Runs the skill's setup for `agent` in every process; answers its tools and prompts. */
  async setup(agent: string, config: Record<string, unknown>): Promise<IsolatedParts> {
    const { entry, workerPath, version, urlPrefix } = this.#options
    const request: Extract<IsolateRequest, { type: 'setup' }> = { type: 'setup', id: 0, entry, workerPath, agent, config, version, urlPrefix }
    await (this.#started ??= this.#start())
    this.#setups.set(agent, request)
    let answers: IsolateAnswer[]
    try {
      answers = await Promise.all(this.#members.map((member) => member.ready.then(() => this.#setUp(member, request))))
    } catch (error) {
      // Not replayed in the processes that replace these: the agent was not built.
      if (this.#setups.get(agent) === request) this.#setups.delete(agent)
      throw error
    }
    const answer = answers[0] as Extract<IsolateAnswer, { ok: true }>
    if (answer.refused && answer.refused.length > 0) {
      throw new Error(
        `an isolated skill has only tools and prompts, and this one declares ${answer.refused.join(', ')}, which would run in the server: ` +
          'run it in process with "isolate": false in its entry of the config\'s skills section (only code you trust: docs/security.md)',
      )
    }
    return answer.prompts === undefined ? { tools: answer.tools ?? [] } : { tools: answer.tools ?? [], prompts: answer.prompts }
  }

  async #start(): Promise<void> {
    const members = await Promise.all(Array.from({ length: this.#options.settings.processes }, () => this.#spawn()))
    this.#members.push(...members)
  }

  /** Runs one tool call in a free process; the call fails alone if the process dies, overruns its memory or is aborted. */
  async call(agent: string, tool: string, args: Record<string, unknown>, signal: AbortSignal): Promise<unknown> {
    const member = await this.#acquire(signal)
    try {
      const request: IsolateRequest = { type: 'call', id: this.#nextId++, agent, tool, args, maxResultBytes: this.#options.settings.maxResultBytes }
      const answer = await this.#watched(member, request, signal)
      return (answer as Extract<IsolateAnswer, { ok: true }>).result
    } finally {
      this.#release(member)
    }
  }

  async close(): Promise<void> {
    this.#closed = true
    for (const member of this.#members.splice(0)) this.#end(member, new Error('the server is closing'))
    await rm(await this.#scratch, { recursive: true, force: true })
  }

  async #spawn(): Promise<Member> {
    const { dir, permissions, env, settings } = this.#options
    const scratch = await this.#scratch
    const granted: Record<string, string> = { TMPDIR: scratch }
    for (const name of permissions.env) if (env[name] !== undefined) granted[name] = env[name]!
    const modules = modulesFolder(dir)
    // The kernel's own dependencies: beside it when installed, in the workspace root's node_modules when linked.
    const kernelModules = modulesFolder(KERNEL_DIR) ?? join(dirname(KERNEL_DIR), 'node_modules')
    const readable = [...new Set([dir, ...(modules ? [modules] : []), KERNEL_DIR, REGISTRY_DIR, kernelModules, scratch])]
    const execArgv = [
      PERMISSION_FLAG,
      ...readable.map((path) => `--allow-fs-read=${path}`),
      `--allow-fs-write=${scratch}`,
      ...(CAN_DENY_NETWORK && permissions.network.length > 0 ? ['--allow-net'] : []),
      `--max-old-space-size=${settings.memoryMb}`,
      '--no-warnings',
    ]
    const child = fork(CHILD, [], { cwd: scratch, env: granted, execArgv, serialization: 'advanced', stdio: ['ignore', 'ignore', 'pipe', 'ipc'] })
    try {
      // Below the server: a skill that spins or pages through memory must not take the CPU /health needs.
      setPriority(child.pid!, ISOLATED_NICENESS)
    } catch {
      // Not permitted here (some containers): the process runs at the server's priority; the limits still hold.
    }
    const member: Member = { child, pending: new Map(), ready: Promise.resolve(), busy: false, ended: false }
    let stderr = ''
    child.stderr!.on('data', (chunk: Buffer) => {
      if (stderr.length < 2000) stderr += chunk.toString()
    })
    child.on('message', (answer: IsolateAnswer & { log?: string; values?: string[] }) => {
      if (answer.log !== undefined) {
        const level = (['info', 'warn', 'error', 'debug'].includes(answer.log) ? answer.log : 'info') as 'info'
        this.#options.log[level]({ skill: this.#options.name }, (answer.values ?? []).join(' ').slice(0, 2000))
        return
      }
      const pending = member.pending.get(answer.id)
      if (!pending) return
      member.pending.delete(answer.id)
      if (answer.ok) pending.resolve(answer)
      else pending.reject(new Error(answer.error))
    })
    child.on('exit', (code, signal) => {
      const why = stderr.trim().split('\n').filter((line) => !line.startsWith('    at ')).slice(-2).join(' ').slice(0, 300)
      this.#end(member, new Error(`the isolated skill's process ended (${signal ?? `exit code ${code}`})${why ? `: ${why}` : ''}`))
    })
    child.on('error', (error) => this.#end(member, error))
    // A new process is set up for every agent before it takes a call.
    member.ready = (async () => {
      for (const request of this.#setups.values()) await this.#setUp(member, request)
    })()
    member.ready.then(
      () => void (this.#failedStarts = 0),
      (error: Error) => {
        this.#failedStarts++
        this.#end(member, new Error(`the isolated skill failed to set up again: ${error.message}`))
      },
    )
    return member
  }

  /** One agent's setup in one process, with the memory limit and a time limit as a call has. */
  #setUp(member: Member, request: Extract<IsolateRequest, { type: 'setup' }>): Promise<IsolateAnswer> {
    return this.#watched(member, { ...request, id: this.#nextId++ }, AbortSignal.timeout(SETUP_TIMEOUT_MS))
  }

  #ask(member: Member, request: IsolateRequest): Promise<IsolateAnswer> {
    if (member.ended) return Promise.reject(new Error("the isolated skill's process has ended"))
    return new Promise<IsolateAnswer>((resolve, reject) => {
      member.pending.set(request.id, { resolve, reject })
      member.child.send(request)
    })
  }

  /** A call with the process's memory watched and the caller's abort honoured: either ends the process. */
  #watched(member: Member, request: IsolateRequest, signal: AbortSignal): Promise<IsolateAnswer> {
    const limit = this.#options.settings.memoryMb * 1024 * 1024
    let reading = false
    const watch = setInterval(() => {
      if (reading) return
      reading = true
      void residentBytes(member.child.pid!).then((rss) => {
        reading = false
        if (rss !== null && rss > limit) {
          this.#end(member, new Error(`the isolated skill's process held ${Math.round(rss / 1048576)} MB, more than its ${this.#options.settings.memoryMb} MB, and was ended`))
        }
      })
    }, WATCH_EVERY_MS)
    const onAbort = () => this.#end(member, signal.reason instanceof Error ? signal.reason : new Error(String(signal.reason)))
    signal.addEventListener('abort', onAbort, { once: true })
    return this.#ask(member, request).finally(() => {
      clearInterval(watch)
      signal.removeEventListener('abort', onAbort)
    })
  }

  /** Kills a process and fails what it owed; a replacement takes its place unless the pool is closing. */
  #end(member: Member, reason: Error): void {
    if (member.ended) return
    member.ended = true
    if (member.child.exitCode === null && member.child.signalCode === null) member.child.kill('SIGKILL')
    for (const pending of member.pending.values()) pending.reject(reason)
    member.pending.clear()
    const index = this.#members.indexOf(member)
    if (index < 0 || this.#closed) return
    if (this.#failedStarts >= MAX_FAILED_STARTS) {
      // Setting up keeps failing: no more processes, and every call says why rather than waiting for one.
      this.#members.splice(index, 1)
      this.#options.log.error({ skill: this.#options.name, reason: reason.message }, 'an isolated skill keeps failing to set up; not starting it again')
      for (const take of this.#waiting.splice(0)) take(member)
      return
    }
    this.#options.log.warn({ skill: this.#options.name, reason: reason.message }, 'an isolated skill process ended; starting another')
    const replacing = this.#spawn()
    this.#members.splice(index, 1)
    void replacing.then(
      (fresh) => {
        if (this.#closed) return this.#end(fresh, new Error('the server is closing'))
        this.#members.push(fresh)
        this.#release(fresh, true)
      },
      (error) => this.#options.log.error({ err: error, skill: this.#options.name }, 'an isolated skill process could not be started'),
    )
  }

  async #acquire(signal: AbortSignal): Promise<Member> {
    if (this.#members.length === 0 && this.#failedStarts >= MAX_FAILED_STARTS) {
      throw new Error('the isolated skill keeps failing to set up in a new process (see the server log)')
    }
    const free = this.#members.find((member) => !member.busy && !member.ended)
    if (free) {
      free.busy = true
      await free.ready
      return free
    }
    if (this.#waiting.length >= this.#options.settings.maxQueue) throw ERR_POOL_SATURATED(this.#waiting.length)
    const member = await new Promise<Member>((resolve, reject) => {
      const take = (member: Member) => {
        signal.removeEventListener('abort', onAbort)
        resolve(member)
      }
      const onAbort = () => {
        const at = this.#waiting.indexOf(take)
        if (at >= 0) this.#waiting.splice(at, 1)
        reject(signal.reason)
      }
      signal.addEventListener('abort', onAbort, { once: true })
      this.#waiting.push(take)
    })
    await member.ready
    return member
  }

  /** Hands a process to the next waiting call, or marks it free. */
  #release(member: Member, fresh = false): void {
    if (member.ended && !fresh) return
    const next = this.#waiting.shift()
    if (next) {
      member.busy = true
      next(member)
    } else {
      member.busy = false
    }
  }
}
