// Watches the agents folder and reports which agent files changed, debounced. Editors that save by writing a
// temp file and renaming it over the old one show up as a rename of NAME.json, which is reported like a write.
import { watch, type FSWatcher } from 'node:fs'
import { stat } from 'node:fs/promises'
import { basename } from 'node:path'
import type { KernelApi } from '@robutler/kernel'
import { agentOfFile } from './store.js'

export interface DirWatcherOptions {
  dir: string
  /** Milliseconds events for one file are gathered before it is reported once. */
  debounceMs: number
  /** Milliseconds between attempts to watch a folder that does not exist (yet) or whose watch failed. */
  retryMs: number
  /** NAME.json was written, replaced or deleted. */
  onChange: (name: string) => void | Promise<void>
  /** Anything in the folder may have changed (the folder was replaced, or the watch was just (re)started). */
  onRescan: () => void | Promise<void>
  log: KernelApi['log']
}

export class DirWatcher {
  readonly #options: DirWatcherOptions
  readonly #timers = new Map<string, NodeJS.Timeout>()
  #watcher: FSWatcher | null = null
  /** The inode of the folder being watched: a folder deleted and made again is watched anew. */
  #ino = -1
  #retry: NodeJS.Timeout | null = null
  #closed = false
  #warnedMissing = false

  constructor(options: DirWatcherOptions) {
    this.#options = options
  }

  get watching(): boolean {
    return this.#watcher !== null
  }

  /** Starts watching; a missing folder is retried until it appears. Resolves once the first attempt is done. */
  async start(): Promise<void> {
    if (this.#closed || this.#watcher) return
    const { dir, log } = this.#options
    try {
      const info = await stat(dir)
      if (!info.isDirectory()) throw Object.assign(new Error(`${dir} is not a folder`), { code: 'ENOTDIR' })
      if (this.#closed) return
      const watcher = watch(dir, { persistent: false }, (_event, filename) => this.#event(filename))
      watcher.on('error', (error) => {
        log.warn({ dir, error: error.message }, `watching agents folder ${dir} failed (${error.message}); retrying`)
        this.#restart()
      })
      this.#watcher = watcher
      this.#ino = info.ino
      this.#warnedMissing = false
      log.debug({ dir }, 'watching agents folder')
    } catch (error: any) {
      if (!this.#warnedMissing) {
        this.#warnedMissing = true
        log.warn({ dir, error: error?.code ?? error?.message }, `agents folder ${dir} cannot be watched (${error?.code ?? error?.message}); retrying every ${this.#options.retryMs} ms`)
      }
      this.#retry = setTimeout(() => {
        this.#retry = null
        void this.start()
      }, this.#options.retryMs)
      this.#retry.unref()
      return
    }
    // Whatever happened while nothing watched is picked up now.
    this.#run(() => this.#options.onRescan())
  }

  close(): void {
    this.#closed = true
    this.#watcher?.close()
    this.#watcher = null
    if (this.#retry) clearTimeout(this.#retry)
    for (const timer of this.#timers.values()) clearTimeout(timer)
    this.#timers.clear()
  }

  #restart(): void {
    this.#watcher?.close()
    this.#watcher = null
    if (!this.#closed) void this.start()
  }

  #event(filename: string | Buffer | null): void {
    const name = filename === null ? null : String(filename)
    const agent = name === null ? null : agentOfFile(name)
    if (agent !== null) {
      this.#debounce(`file:${agent}`, () => this.#options.onChange(agent))
    } else if (name === null || name.startsWith('..')) {
      // No file name (some platforms), or a Kubernetes ConfigMap swapping its `..data` link: anything may have changed.
      this.#debounce('rescan', () => this.#options.onRescan())
    } else if (name === basename(this.#options.dir)) {
      this.#debounce('folder', () => this.#checkFolder())
    }
  }

  /** The folder itself was deleted or replaced: watch whatever is there now. */
  async #checkFolder(): Promise<void> {
    const ino = await stat(this.#options.dir).then((info) => info.ino, () => -1)
    if (ino !== this.#ino) this.#restart()
  }

  // Trailing debounce without reset: a file written continuously is still reported every debounceMs.
  #debounce(key: string, fn: () => void | Promise<void>): void {
    if (this.#closed || this.#timers.has(key)) return
    const timer = setTimeout(() => {
      this.#timers.delete(key)
      this.#run(fn)
    }, this.#options.debounceMs)
    timer.unref()
    this.#timers.set(key, timer)
  }

  #run(fn: () => void | Promise<void>): void {
    Promise.resolve()
      .then(fn)
      .catch((error) => this.#options.log.error({ err: error, dir: this.#options.dir }, 'reacting to a change in the agents folder failed'))
  }
}
