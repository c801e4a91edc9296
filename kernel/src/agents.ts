// Agent resolution: static agents, then loader plugins by priority, then the dynamicAgents function.
// Loaded agents are cached (LRU with TTL); unknown names briefly, in a smaller cache of their own (a flood of
// made-up names cannot evict a real agent); each name loads once at a time; a cached agent whose loader fails is
// served as last loaded, up to maxStaleMs.
import { AGENT_NAME } from './config-schema.js'
import { isRobutlerError } from './errors.js'
import type { BuiltAgent } from './agent-build.js'
import type { AgentConfig, AgentLister, AgentLoader, AgentLoaderOptions } from './types.js'

export interface DirectoryOptions {
  build: (config: AgentConfig) => Promise<BuiltAgent>
  /** Who serves a route of that name under the prefix, or null: such names are no agents'. */
  reservedBy: (name: string) => string | null
  /** The trace-context headers of a request (kernel.propagation), for the loads it starts; none when nobody propagates. */
  propagation?: (requestId: string) => Record<string, string> | undefined
  /** Loaded agents kept (LRU). */
  maxEntries?: number
  /** Unknown names and refused records kept, apart from the agents: a flood of made-up names cannot evict one. */
  maxNegativeEntries?: number
  ttlMs?: number
  negativeTtlMs?: number
  /** How long past its load a cached agent is still served while its loader fails (0: never served stale). */
  maxStaleMs?: number
  /** After a failed reload, how long the stale agent is served before the loader is asked again. */
  retryMs?: number
  loadTimeoutMs?: number
  /** Where a failed reload answered by a stale agent is told (warn, once per retry). */
  log?: { warn(object: object, message: string): void }
}

interface Entry {
  agent: BuiltAgent
  /** When it was loaded: a stale answer is measured from here. */
  loadedAt: number
  expires: number
}

interface Negative {
  /** A record the kernel refused (RBT_ERR_AGENT_INVALID): answered again until it expires or is invalidated; null: no such agent. */
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

/**
 * A loader failed (threw, or timed out): not cached. The kernel answers the client a generic 503 with the request
 * id and logs this (loader, cause); a RobutlerError a loader throws on purpose reaches the client as it is.
 */
export class AgentLoadError extends Error {
  constructor(
    readonly agent: string,
    readonly loader: string,
    cause: unknown,
  ) {
    super(`loader ${loader} failed for agent '${agent}': ${(cause as Error)?.message ?? String(cause)}`, { cause })
    this.name = 'AgentLoadError'
  }
}

/** A Map used as an LRU: a hit moves the key to the end, the first key is the least recently used. */
function touch<V>(map: Map<string, V>, key: string, value: V): void {
  map.delete(key)
  map.set(key, value)
}

function putBounded<V>(map: Map<string, V>, key: string, value: V, max: number): void {
  map.delete(key)
  if (map.size >= max) {
    const oldest = map.keys().next().value
    if (oldest !== undefined) map.delete(oldest)
  }
  map.set(key, value)
}

export class AgentDirectory {
  readonly static = new Map<string, BuiltAgent>()
  readonly #loaders: LoaderEntry[] = []
  readonly #cache = new Map<string, Entry>()
  readonly #negative = new Map<string, Negative>()
  readonly #loading = new Map<string, Promise<BuiltAgent | null>>()
  readonly #propagation: (requestId: string) => Record<string, string> | undefined
  readonly #build: DirectoryOptions['build']
  readonly #reservedBy: DirectoryOptions['reservedBy']
  readonly #log: DirectoryOptions['log']
  readonly #maxEntries: number
  readonly #maxNegative: number
  readonly #ttlMs: number
  readonly #negativeTtlMs: number
  readonly #maxStaleMs: number
  readonly #retryMs: number
  readonly #loadTimeoutMs: number
  // A load that started before an invalidation of its name (or of everything) must not refill the cache.
  #generation = 0
  readonly #nameGenerations = new Map<string, number>()
  #hits = 0
  #misses = 0
  #loads = 0
  #loadErrors = 0
  #staleServed = 0

  constructor(options: DirectoryOptions) {
    this.#build = options.build
    this.#reservedBy = options.reservedBy
    this.#propagation = options.propagation ?? (() => undefined)
    this.#log = options.log
    this.#maxEntries = options.maxEntries ?? 10_000
    this.#maxNegative = options.maxNegativeEntries ?? 1_000
    this.#ttlMs = options.ttlMs ?? 60_000
    this.#negativeTtlMs = options.negativeTtlMs ?? 5_000
    this.#maxStaleMs = options.maxStaleMs ?? 600_000
    this.#retryMs = options.retryMs ?? 1_000
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

  /** Loaded agents in the cache (unknown and refused names are kept apart). */
  get cacheSize(): number {
    return this.#cache.size
  }

  /** The loaded agents in the cache now, least recently used first. */
  cachedAgents(): BuiltAgent[] {
    return [...this.#cache.values()].map((entry) => entry.agent)
  }

  /** Unknown and refused names remembered. */
  get negativeSize(): number {
    return this.#negative.size
  }

  /** Forgets one cached agent (or, with no name, every cached and unknown one). */
  invalidate(name?: string): void {
    if (name === undefined) {
      this.#generation++
      this.#cache.clear()
      this.#negative.clear()
      return
    }
    this.#nameGenerations.set(name, (this.#nameGenerations.get(name) ?? 0) + 1)
    this.#cache.delete(name)
    this.#negative.delete(name)
  }

  #generationOf(name: string): string {
    return `${this.#generation}:${this.#nameGenerations.get(name) ?? 0}`
  }

  /**
   * A static or cached agent without awaiting, else a promise of the loaded one (null: no such agent). A loader
   * failure rejects with AgentLoadError, unless the name's last agent was loaded within maxStaleMs: that one is
   * answered instead (stale), and the loader asked again after retryMs.
   */
  resolve(name: string, requestId?: string): BuiltAgent | null | Promise<BuiltAgent | null> {
    const found = this.static.get(name)
    if (found) return found
    if (this.#loaders.length === 0 || !AGENT_NAME.test(name) || this.#reservedBy(name) !== null) return null
    const now = Date.now()
    const entry = this.#cache.get(name)
    if (entry !== undefined && entry.expires > now) {
      this.#hits++
      touch(this.#cache, name, entry)
      return entry.agent
    }
    if (entry === undefined) {
      const negative = this.#negative.get(name)
      if (negative !== undefined) {
        if (negative.expires > now) {
          this.#hits++
          if (negative.invalid) return Promise.reject(negative.invalid)
          return null
        }
        this.#negative.delete(name)
      }
    }
    this.#misses++
    let loading = this.#loading.get(name)
    if (!loading) {
      // A load other requests wait on too carries the trace context of the request that started it.
      loading = this.#load(name, requestId === undefined ? undefined : this.#propagation(requestId)).finally(() => this.#loading.delete(name))
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
  stats(): { static: number; cached: number; hits: number; misses: number; loads: number; loadErrors: number; staleServed: number } {
    return {
      static: this.static.size,
      cached: this.#cache.size,
      hits: this.#hits,
      misses: this.#misses,
      loads: this.#loads,
      loadErrors: this.#loadErrors,
      staleServed: this.#staleServed,
    }
  }

  async #load(name: string, propagation: Record<string, string> | undefined): Promise<BuiltAgent | null> {
    this.#loads++
    const generation = this.#generationOf(name)
    const signal = AbortSignal.timeout(this.#loadTimeoutMs)
    let config: AgentConfig | null = null
    for (const loader of this.#loaders) {
      try {
        config = (await loader.load(name, propagation === undefined ? { signal } : { signal, propagation })) ?? null
      } catch (error: any) {
        this.#loadErrors++
        const failure = isRobutlerError(error) ? error : new AgentLoadError(name, loader.name, error)
        return this.#stale(name, failure)
      }
      if (config) break
    }
    if (config && config.name !== name) config = { ...config, name }
    let agent: BuiltAgent | null = null
    try {
      agent = config ? await this.#build(config) : null
    } catch (error) {
      // A bad record stays bad until its source changes: remember the refusal briefly, like an unknown name.
      if (generation === this.#generationOf(name)) this.#rememberNegative(name, error as Error)
      throw error
    }
    if (generation !== this.#generationOf(name)) return agent
    if (agent) putBounded(this.#cache, name, { agent, loadedAt: Date.now(), expires: Date.now() + this.#ttlMs }, this.#maxEntries)
    else this.#rememberNegative(name, null)
    return agent
  }

  /** The last agent of that name when it is young enough to stand in for a failed reload; else the failure. */
  #stale(name: string, failure: Error): BuiltAgent {
    const entry = this.#cache.get(name)
    const now = Date.now()
    if (entry === undefined || now - entry.loadedAt > this.#maxStaleMs) {
      if (entry !== undefined) this.#cache.delete(name)
      throw failure
    }
    entry.expires = now + this.#retryMs
    this.#staleServed++
    this.#log?.warn(
      { agent: name, err: failure, loadedSecondsAgo: Math.round((now - entry.loadedAt) / 1000) },
      'agent loader failed; serving the agent as last loaded',
    )
    return entry.agent
  }

  #rememberNegative(name: string, invalid: Error | null): void {
    this.#cache.delete(name)
    putBounded(this.#negative, name, { invalid, expires: Date.now() + this.#negativeTtlMs }, this.#maxNegative)
  }
}
