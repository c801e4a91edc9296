// What a skill's setup(config, kernel) and its tools get when they are checked outside a server (`validate`, and
// the checks after `add`): the kernel API with nothing behind it, typed as the kernel's own so that tsc holds it to
// the real shape. Whatever a skill registers here goes nowhere.
import { pino } from 'pino'
import type { RequestContext, SkillDefinition, ToolRunContext } from '@robutler/kernel'

/** What setup() is given: the kernel's type, whatever it is named. */
type SetupKernel = Parameters<SkillDefinition['setup']>[1]

export interface InspectionOptions {
  version: string
  baseDir: string
  env: NodeJS.ProcessEnv
}

/** A logger that writes nothing (a tool's logs are not what validate checks). */
function silentLogger(): RequestContext['log'] {
  return pino({ level: 'silent' })
}

/** A stand-in for something only a running server has: using it says so, instead of failing on undefined. */
function serverOnly<T extends object>(what: string): T {
  return new Proxy({} as T, {
    get(_target, key) {
      throw new Error(`kernel.${what}.${String(key)} needs a running server; validate runs setup without one`)
    },
  })
}

/** The kernel API for setup(config, kernel) outside a server. */
export function inspectionKernel(options: InspectionOptions): SetupKernel {
  const noop = (): void => {}
  return {
    version: options.version,
    urlPrefix: '',
    baseDir: options.baseDir,
    env: Object.freeze({ ...options.env }),
    providers: { register: noop, has: () => false },
    agents: {
      addLoader: noop,
      invalidate: noop,
      stats: () => ({ static: 0, cached: 0, hits: 0, misses: 0, loads: 0, loadErrors: 0 }),
      describe: () => [],
    },
    auth: { enabled: false, addAuthenticator: noop, identify: async () => null },
    packages: () => ({ kernelVersion: options.version, problems: [], packages: [] }),
    events: { on: noop, off: noop, emit: noop },
    propagation: { add: noop },
    cluster: { isWorker: false, onGather: noop, gather: async () => [], gatherAll: async () => ({ values: [], departed: [] }) },
    pool: { stats: () => ({ threads: 0, queueSize: 0, utilization: 0, completed: 0, failed: 0 }) },
    http: serverOnly('http'),
    health: { add: noop },
    surfaces: { add: noop },
    runs: { gate: noop },
    onReady: noop,
    onClose: noop,
    log: silentLogger(),
    agent: 'robutler-validate',
    // No server to share with: each setup gets a value of its own.
    shared: (make) => make(),
  }
}

/** The `ctx` an in-process tool's run(args, ctx) gets: a request context of an anonymous admin, no HTTP behind it. */
export function inspectionToolContext(signal: AbortSignal, timeoutMs: number): ToolRunContext {
  const log = silentLogger()
  const context: RequestContext = {
    id: 'robutler-validate',
    identity: null,
    scope: 'admin',
    agent: null,
    surface: 'validate',
    deadline: Date.now() + timeoutMs,
    signal,
    usage: { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 },
    log,
    state: {},
  }
  return { signal, context, log }
}
