// One kernel instance: everything a server owns (no module-level state), and the API plugins receive.
import { randomBytes } from 'node:crypto'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { Logger } from 'pino'
import { buildAgent, type BuiltAgent, type SkillPackage } from './agent-build.js'
import type { AgentRules } from './agent-check.js'
import { AgentDirectory } from './agents.js'
import { AuthChain } from './auth.js'
import { ERR_REQUEST_TIMEOUT, type RobutlerError } from './errors.js'
import { publicError } from './http-errors.js'
import { EventBus } from './events.js'
import type { Settings } from './options.js'
import { ProviderRegistry } from './providers.js'
import type { RuntimeDeps } from './runtime.js'
import { ToolValidators } from './tool-validators.js'
import { WorkerPool } from './pool.js'
import { ClusterGather } from './cluster-gather.js'
import type { Context } from './request-context.js'
import { RESERVED_AGENT_NAMES } from './config-schema.js'
import { Surfaces } from './surfaces.js'
import type { AgentConfig, HeaderInjector, HealthCheck, KernelApi, RunGate, SkillApi } from './types.js'
import { idSource } from './ids.js'
import { describeAgent, packageReport } from './describe.js'
import type { LoadReport } from '@robutler/registry'
import { makeSkillApi } from './skill-api.js'
import { IsolatedSkill, IsolationHost } from './isolated-skill.js'
import { permissionsOf } from '@robutler/registry'

export class Kernel {
  readonly version: string
  readonly settings: Settings
  readonly log: Logger
  readonly app: FastifyInstance
  readonly events: EventBus
  readonly providers = new ProviderRegistry()
  readonly auth = new AuthChain()
  readonly validators = new ToolValidators()
  readonly skills = new Map<string, SkillPackage>()
  /** Each isolated skill's process pool, by package name. */
  readonly isolated = new Map<string, IsolatedSkill>()
  /** Each skill's `shared(make)` value, by package name. */
  readonly skillShared = new Map<string, unknown>()
  /** What every agent config is checked against once plugins have registered their providers. */
  readonly agentRules: AgentRules
  readonly healthChecks = new Map<string, HealthCheck>()
  /** kernel.propagation's injectors: the model-call layer runs each on every call's headers. */
  readonly propagators: HeaderInjector[] = []
  /** Plugins' gates on every agent run (budgets), in the order added. */
  readonly runGates: RunGate[] = []
  readonly readyFns: Array<() => void | Promise<void>> = []
  readonly closeFns: Array<{ owner: string; fn: () => void | Promise<void> }> = []
  /** In-flight agent requests: swept for their deadline, aborted when a drain runs out of time. */
  readonly inflight = new Set<Context>()
  #sweeper: NodeJS.Timeout | null = null
  #isolationHost: IsolationHost | null = null
  readonly agents: AgentDirectory
  readonly pool: WorkerPool
  readonly gatherer = new ClusterGather()
  readonly runtimeDeps: RuntimeDeps
  readonly surfaces: Surfaces
  /** Makes the completion ids (`chatcmpl-…`). */
  readonly completionId = idSource(`chatcmpl-${randomBytes(6).toString('hex')}`)
  readonly startedAt = Date.now()
  readonly env: Readonly<Record<string, string | undefined>>
  /** Whether agent requests run inside AsyncLocalStorage (see ServerOptions.asyncContext). */
  asyncContext = false
  booted = false
  draining = false
  /** The load-time report this server started from (for `KernelApi.packages()`). */
  startupReport: LoadReport | null = null

  constructor(options: { version: string; settings: Settings; log: Logger; app: FastifyInstance; env: Readonly<Record<string, string | undefined>> }) {
    this.version = options.version
    this.env = options.env
    this.settings = options.settings
    this.agentRules = {
      hasProvider: (prefix) => this.providers.has(prefix),
      reservedBy: (name) => this.surfaces.reservedBy(name),
      skills: this.skills,
      unknownSkills: 'problem',
      params: options.settings.params,
    }
    this.log = options.log
    this.app = options.app
    this.agents = new AgentDirectory({
      build: (config) => this.buildAgent(config),
      reservedBy: (name) => this.surfaces.reservedBy(name),
      maxStaleMs: options.settings.agentMaxStaleMs,
      log: options.log,
      propagation: (requestId) => this.propagationOf(requestId),
    })
    this.events = new EventBus((error, event) => this.log.error({ err: error, event }, 'a kernel event listener threw'))
    const s = options.settings
    this.pool = new WorkerPool(
      { threads: s.workerThreads, maxQueue: s.workerQueue, resourceLimits: s.workerResourceLimits, maxResultBytes: s.maxToolResultBytes },
      this.events,
      this.log,
    )
    this.runtimeDeps = {
      events: this.events,
      toolTimeoutMs: s.toolTimeoutMs,
      maxResultBytes: s.maxToolResultBytes,
      retry: { retries: s.providerRetries, baseDelayMs: 250, maxDelayMs: 8_000, timeoutMs: s.providerTimeoutMs },
      runWorker: (tool, args, signal) => this.pool.run(tool.workerPath!, tool.worker!, args, signal),
      propagators: this.propagators,
    }
    this.surfaces = new Surfaces(this, RESERVED_AGENT_NAMES)
  }

  /**
   * Times requests and model calls out by sweeping the in-flight set a few times per timeout: one timer per
   * server rather than a setTimeout per request and per call (which cost the hot path more than the sweep costs
   * in total).
   */
  startTimeoutSweep(): void {
    const shortest = Math.min(this.settings.requestTimeoutMs, this.settings.providerTimeoutMs)
    const every = Math.max(10, Math.min(1000, Math.floor(shortest / 4)))
    this.#sweeper = setInterval(() => {
      const now = Date.now()
      for (const context of this.inflight) {
        if (context.deadline <= now) context.abort(ERR_REQUEST_TIMEOUT(this.settings.requestTimeoutMs / 1000))
        else if (context.call !== null && context.call.deadline <= now) context.call.timeOut()
      }
    }, every)
    this.#sweeper.unref()
  }

  stopTimeoutSweep(): void {
    if (this.#sweeper) clearInterval(this.#sweeper)
    this.#sweeper = null
  }

  /** The headers kernel.propagation's injectors write for a request, or undefined when none is added. */
  propagationOf(requestId: string): Record<string, string> | undefined {
    if (this.propagators.length === 0) return undefined
    const headers: Record<string, string> = {}
    for (const inject of this.propagators) inject(requestId, headers)
    return headers
  }

  publicError(error: unknown, request: FastifyRequest): RobutlerError {
    return publicError(error, request, this.settings.bodyLimit)
  }

  buildAgent(config: AgentConfig): Promise<BuiltAgent> {
    return buildAgent(config, {
      providers: this.providers,
      rules: this.agentRules,
      skills: this.skills,
      validators: this.validators,
      kernelFor: (skill, agent) => this.skillApiFor(skill, agent),
      isolatedSetup: (skill, agent, config) => this.isolatedSkill(skill).setup(agent, config),
      urlPrefix: this.settings.urlPrefix,
      log: this.log,
    })
  }

  /** The process pool of an isolated skill, started with the first agent that uses it and closed with the server. */
  isolatedSkill(skill: SkillPackage): IsolatedSkill {
    let pool = this.isolated.get(skill.name)
    if (!pool) {
      if (this.#isolationHost === null) {
        const host = new IsolationHost(this.log)
        this.#isolationHost = host
        // Registered before any pool's close: closes run in reverse, so the host thread ends last.
        this.closeFns.push({ owner: 'isolation', fn: () => host.close() })
      }
      const s = this.settings
      // Only the granted variables leave this thread.
      const env: Record<string, string> = {}
      for (const name of skill.permissions.env) if (this.env[name] !== undefined) env[name] = this.env[name]!
      pool = new IsolatedSkill(this.#isolationHost, {
        name: skill.name,
        dir: skill.isolated!.dir,
        entry: skill.isolated!.entry,
        workerPath: skill.workerPath,
        permissions: skill.permissions,
        env,
        version: this.version,
        urlPrefix: s.urlPrefix,
        settings: { processes: s.isolation.processes, memoryMb: s.isolation.memoryMb, maxQueue: s.workerQueue, maxResultBytes: s.maxToolResultBytes },
      })
      this.isolated.set(skill.name, pool)
      const closing = pool
      this.closeFns.push({ owner: skill.name, fn: async () => void (await closing.close()) })
    }
    return pool
  }

  /** What a skill's setup receives for one agent: the skill API (its granted env, its agent, a logger), never this kernel. */
  skillApiFor(skill: string, agent: string): SkillApi {
    const owner = skill
    return makeSkillApi({
      skill,
      agent,
      version: this.version,
      urlPrefix: this.settings.urlPrefix,
      baseDir: this.settings.baseDir,
      env: this.env,
      permissions: this.skills.get(skill)?.permissions ?? permissionsOf(undefined),
      log: this.log,
      shared: this.skillShared,
      addHealthCheck: (name, check) => {
        if (this.healthChecks.has(name)) throw new Error(`health check '${name}' is already registered`)
        this.healthChecks.set(name, check)
      },
      onClose: (fn) => void this.closeFns.push({ owner, fn }),
    })
  }

  /** The API a plugin receives: the same kernel, with its own child logger and close owner. */
  apiFor(owner: string): KernelApi {
    const auth = this.auth
    return {
      version: this.version,
      urlPrefix: this.settings.urlPrefix,
      baseDir: this.settings.baseDir,
      env: this.env,
      providers: {
        register: (prefix, provider) => this.providers.register(prefix, provider),
        has: (prefix) => this.providers.has(prefix),
      },
      agents: {
        addLoader: (loader, options) => this.agents.addLoader(loader, { name: owner, ...options }),
        invalidate: (name) => this.agents.invalidate(name),
        stats: () => this.agents.stats(),
        describe: () => [
          ...[...this.agents.static.values()].map((agent) => describeAgent(agent, 'static')),
          ...this.agents.cachedAgents().map((agent) => describeAgent(agent, 'cache')),
        ],
      },
      auth: {
        get enabled() {
          return auth.enabled
        },
        addAuthenticator: (fn) => this.auth.add(fn),
        identify: (request) => this.auth.identify(request),
        identifyNow: (request) => this.auth.identifyNow(request),
      },
      packages: () => packageReport(this.version, this.startupReport, this.startupReport?.problems ?? []),
      events: {
        on: (event, fn) => this.events.on(event, fn),
        off: (event, fn) => this.events.off(event, fn),
        emit: (event, payload) => this.events.emit(event, payload),
      },
      propagation: { add: (inject) => void this.propagators.push(inject) },
      http: this.app,
      surfaces: { add: (definition) => this.surfaces.add(owner, definition) },
      runs: {
        gate: (gate) => {
          if (typeof gate?.before !== 'function') throw new TypeError(`${owner}: a run gate needs before(ctx)`)
          this.runGates.push(gate)
        },
      },
      pool: { stats: () => this.pool.stats() },
      cluster: {
        isWorker: this.gatherer.isWorker,
        onGather: (topic, handler, options) => this.gatherer.onGather(topic, handler, options),
        gather: (topic, timeoutMs) => this.gatherer.gather(topic, timeoutMs),
        gatherAll: (topic, timeoutMs) => this.gatherer.gatherAll(topic, timeoutMs),
      },
      health: {
        add: (name, check) => {
          if (this.healthChecks.has(name)) throw new Error(`health check '${name}' is already registered`)
          this.healthChecks.set(name, check)
        },
      },
      onReady: (fn) => void this.readyFns.push(fn),
      onClose: (fn) => void this.closeFns.push({ owner, fn }),
      log: this.log.child({ plugin: owner }),
    }
  }
}
