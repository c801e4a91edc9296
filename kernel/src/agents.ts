// Agent resolution: static agents, then loader plugins by priority, then the dynamicAgents function.
// Loaded agents are cached (LRU with TTL), unknown names briefly, and each name loads once at a time.
import { AGENT_NAME } from './config-schema.js'
import { ERR_AGENT_UNAVAILABLE, isRobutlerError } from './errors.js'
import type { BuiltAgent } from './agent-build.js'
import type { AgentConfig, AgentLister, AgentLoader, AgentLoaderOptions } from './types.js'

export interface DirectoryOptions {
  build: (config: AgentConfig) => Promise<BuiltAgent>
  /** Who serves a route of that name under the prefix, or null: such names are no agents'. */
  reservedBy: (name: string) => string | null
  maxEntries?: number
  ttlMs?: number
  negativeTtlMs?: number
  loadTimeoutMs?: number
}

interface Entry {
  agent: BuiltAgent | null
  /** A record the kernel refused (RBT_ERR_AGENT_INVALID): answered again until it expires or is invalidated. */
  invalid: Error | null
  expires: number
}

interface LoaderEntry {
  name: string
  priority: number
  load: AgentLoader
  list: AgentLister | null
}

/** What the loaders can list: the names, and the loaders that cannot say which agents they have. */
export interface DynamicListing {
  names: string[]
  unlisted: string[]
}

/** Names a listing takes at most from all loaders together, so `GET /agents` stays bounded. */
export const MAX_LISTED_AGENTS = 1000

export class AgentDirectory {
  readonly static = new Map<string, BuiltAgent>()
  readonly #loaders: LoaderEntry[] = []
  readonly #cache = new Map<string, Entry>()
  readonly #loading = new Map<string, Promise<BuiltAgent | null>>()
  readonly #build: DirectoryOptions['build']
  readonly #reservedBy: DirectoryOptions['reservedBy']
  readonly #maxEntries: number
  readonly #ttlMs: number
  readonly #negativeTtlMs: number
  readonly #loadTimeoutMs: number
  // A load that started before an invalidation of its name (or of everything) must not refill the cache.
  #generation = 0
  readonly #nameGenerations = new Map<string, number>()
  #hits = 0
  #misses = 0
  #loads = 0
  #loadErrors = 0

  constructor(options: DirectoryOptions) {
    this.#build = options.build
    this.#reservedBy = options.reservedBy
    this.#maxEntries = options.maxEntries ?? 10_000
    this.#ttlMs = options.ttlMs ?? 60_000
    this.#negativeTtlMs = options.negativeTtlMs ?? 5_000
    this.#loadTimeoutMs = options.loadTimeoutMs ?? 10_000
  }

  addLoader(load: AgentLoader, options: AgentLoaderOptions = {}): void {
    if (typeof load !== 'function') throw new TypeError('addLoader needs a function (name, { signal }) => config | null')
    if (options.list !== undefined && typeof options.list !== 'function') throw new TypeError('addLoader: list must be a function ({ signal }) => names')
    this.#loaders.push({ load, priority: options.priority ?? 100, name: options.name ?? `loader-${this.#loaders.length + 1}`, list: options.list ?? null })
    this.#loaders.sort((a, b) => a.priority - b.priority)
  }

  get dynamicEnabled(): boolean {
    return this.#loaders.length > 0
  }

  get cacheSize(): number {
    return this.#cache.size
  }

  /** Forgets one cached agent (or, with no name, every cached and unknown one). */
  invalidate(name?: string): void {
    if (name === undefined) {
      this.#generation++
      this.#cache.clear()
      return
    }
    this.#nameGenerations.set(name, (this.#nameGenerations.get(name) ?? 0) + 1)
    this.#cache.delete(name)
  }

  #generationOf(name: string): string {
    return `${this.#generation}:${this.#nameGenerations.get(name) ?? 0}`
  }

  /** A static or cached agent without awaiting, else a promise of the loaded one (null: no such agent). */
  resolve(name: string): BuiltAgent | null | Promise<BuiltAgent | null> {
    const found = this.static.get(name)
    if (found) return found
    if (this.#loaders.length === 0 || !AGENT_NAME.test(name) || this.#reservedBy(name) !== null) return null
    const entry = this.#cache.get(name)
    if (entry) {
      if (entry.expires > Date.now()) {
        this.#hits++
        this.#cache.delete(name)
        this.#cache.set(name, entry)
        if (entry.invalid) return Promise.reject(entry.invalid)
        return entry.agent
      }
      this.#cache.delete(name)
    }
    this.#misses++
    let loading = this.#loading.get(name)
    if (!loading) {
      loading = this.#load(name).finally(() => this.#loading.delete(name))
      this.#loading.set(name, loading)
    }
    return loading
  }

  /**
   * The names the loaders that can list give (not the static agents', servable names only, at most
   * MAX_LISTED_AGENTS), and the loaders that cannot list. A lister that fails is counted as one that cannot.
   */
  async listDynamic(): Promise<DynamicListing> {
    const names = new Set<string>()
    const unlisted: string[] = []
    const signal = AbortSignal.timeout(this.#loadTimeoutMs)
    for (const loader of this.#loaders) {
      if (!loader.list) {
        unlisted.push(loader.name)
        continue
      }
      try {
        for (const name of await loader.list({ signal })) {
          if (names.size >= MAX_LISTED_AGENTS) break
          if (typeof name === 'string' && !this.static.has(name) && AGENT_NAME.test(name) && this.#reservedBy(name) === null) names.add(name)
        }
      } catch {
        // A source that is down lists nothing now; its agents still load by name when asked for.
        unlisted.push(loader.name)
      }
    }
    return { names: [...names].sort(), unlisted }
  }

  /** Cache figures for monitoring. */
  stats(): { static: number; cached: number; hits: number; misses: number; loads: number; loadErrors: number } {
    return { static: this.static.size, cached: this.#cache.size, hits: this.#hits, misses: this.#misses, loads: this.#loads, loadErrors: this.#loadErrors }
  }

  async #load(name: string): Promise<BuiltAgent | null> {
    this.#loads++
    const generation = this.#generationOf(name)
    const signal = AbortSignal.timeout(this.#loadTimeoutMs)
    let config: AgentConfig | null = null
    for (const loader of this.#loaders) {
      try {
        config = (await loader.load(name, { signal })) ?? null
      } catch (error: any) {
        this.#loadErrors++
        // Not cached: the next request tries again.
        throw isRobutlerError(error) ? error : ERR_AGENT_UNAVAILABLE(name, `${loader.name}: ${error?.message ?? String(error)}`, error)
      }
      if (config) break
    }
    if (config && config.name !== name) config = { ...config, name }
    let agent: BuiltAgent | null = null
    try {
      agent = config ? await this.#build(config) : null
    } catch (error) {
      // A bad record stays bad until its source changes: remember the refusal briefly, like an unknown name.
      if (generation === this.#generationOf(name)) this.#remember(name, null, error as Error)
      throw error
    }
    if (generation === this.#generationOf(name)) this.#remember(name, agent, null)
    return agent
  }

  #remember(name: string, agent: BuiltAgent | null, invalid: Error | null): void {
    if (this.#cache.size >= this.#maxEntries) {
      const oldest = this.#cache.keys().next().value
      if (oldest !== undefined) this.#cache.delete(oldest)
    }
    this.#cache.set(name, { agent, invalid, expires: Date.now() + (agent ? this.#ttlMs : this.#negativeTtlMs) })
  }
}
