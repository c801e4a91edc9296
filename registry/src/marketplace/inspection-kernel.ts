// What a skill's setup(config, kernel) and its tools get when they are checked outside a server (`validate`, and
// the checks after `add`): the kernel API's shape with nothing behind it. The registry cannot import the kernel,
// so this is a plain object of the same shape; whatever a skill registers here goes nowhere.

/** A logger with pino's method names that drops everything (a tool's logs are not what validate checks). */
export function silentLogger(): Record<string, unknown> {
  const noop = (): void => {}
  const logger: Record<string, unknown> = { level: 'silent', fatal: noop, error: noop, warn: noop, info: noop, debug: noop, trace: noop, silent: noop }
  logger.child = () => logger
  logger.isLevelEnabled = () => false
  return logger
}

/** A KernelApi-shaped object for setup(config, kernel) outside a server. */
export function inspectionKernel(options: { version: string; baseDir: string; env: NodeJS.ProcessEnv }): Record<string, unknown> {
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
    },
    auth: { addAuthenticator: noop, identify: async () => null },
    events: { on: noop, off: noop, emit: noop },
    cluster: { isWorker: false, onGather: noop, gather: async () => [] },
    pool: { stats: () => ({ threads: 0, queueSize: 0, utilization: 0, completed: 0, failed: 0 }) },
    http: null,
    health: { add: noop },
    onReady: noop,
    onClose: noop,
    log: silentLogger(),
  }
}

/** The `ctx` an in-process tool's run(args, ctx) gets: a request context of an anonymous admin, no HTTP behind it. */
export function inspectionToolContext(signal: AbortSignal, timeoutMs: number): Record<string, unknown> {
  const log = silentLogger()
  const context = {
    id: 'robutler-validate',
    identity: null,
    scope: 'admin',
    agent: null,
    deadline: Date.now() + timeoutMs,
    signal,
    usage: { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 },
    log,
    state: {},
  }
  return { signal, context, log }
}
