// One process of an isolated skill's pool. The server forks it under Node's permission model (read the skill's
// package and its dependencies, write only a scratch folder, no child processes, no workers) with the granted
// environment only; here it loads the skill, runs its setup for each agent, and runs its tools one call at a time,
// answering over IPC. It imports nothing but Node's own modules: it may read nothing of the kernel but this file.
import { pathToFileURL } from 'node:url'

/** Messages from the server. */
export type IsolateRequest =
  | { type: 'setup'; id: number; entry: string; workerPath: string | null; agent: string; config: Record<string, unknown>; version: string; urlPrefix: string }
  | { type: 'call'; id: number; agent: string; tool: string; args: Record<string, unknown>; maxResultBytes: number }

/** A tool as it crosses to the server: everything but its function. */
export interface IsolatedToolSpec {
  name: string
  description: unknown
  parameters: unknown
  scope: unknown
  timeoutMs: unknown
  /** Neither run nor worker, or both: the server reports it as the kernel's rules say. */
  runs: 'run' | 'worker' | 'both' | 'neither'
}

/** Messages to the server. */
export type IsolateAnswer =
  | { id: number; ok: true; tools?: IsolatedToolSpec[]; prompts?: unknown; refused?: string[]; result?: unknown }
  | { id: number; ok: false; error: string }

const BRAND = Symbol.for('robutler.package')
/** The parts an isolated skill may not have: they would run in the server, which is what isolation prevents. */
const SERVER_PARTS = ['hooks', 'http', 'access', 'toolSource']

type Runner = (args: Record<string, unknown>, ctx: unknown) => unknown
const tools = new Map<string, Map<string, Runner>>()
const shared = new Map<string, unknown>()
const closers: Array<() => unknown> = []

// A skill signals nothing: not the server (its parent), not another process. Set before any skill code loads.
const denied = () => {
  throw new Error('process.kill is not available to an isolated skill')
}
Object.defineProperty(process, 'kill', { value: denied, writable: false, configurable: false })
Object.defineProperty(process, '_kill', { value: denied, writable: false, configurable: false })
// The channel to the server is this module's alone: a skill that could write to it could answer other calls, or send
// the server a message as large as its memory. Kept here, then taken off \`process\`.
// (`_send` is what `send` calls: it is kept bound here; the channel handle itself writes nothing without the internal
// bindings the permission model denies.)
const rawSend = (process as unknown as { _send: (message: unknown, handle: undefined, options: object, callback: undefined) => boolean })._send.bind(process)
const toServer = (message: unknown): void => void rawSend(message, undefined, {}, undefined)
for (const key of ['send', '_send', 'disconnect']) {
  Object.defineProperty(process, key, { value: undefined, writable: false, configurable: false })
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

/** A log line's text, at most this long: a skill's logging cannot flood the server with large messages. */
const MAX_LOG_CHARS = 2000

function send(answer: IsolateAnswer): void {
  toServer(answer)
}

async function importDefault(entry: string): Promise<any> {
  return (await import(pathToFileURL(entry).href)).default
}

async function setup(request: Extract<IsolateRequest, { type: 'setup' }>): Promise<IsolateAnswer> {
  const definition = await importDefault(request.entry)
  if (definition?.[BRAND] !== 'skill' || typeof definition.setup !== 'function') throw new Error('its default export is not a skill made by defineSkill')
  const log = (level: string) => (...values: unknown[]) =>
    void toServer({ log: level, values: [values.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))).join(' ').slice(0, MAX_LOG_CHARS)] })
  const logger: Record<string, unknown> = { info: log('info'), warn: log('warn'), error: log('error'), debug: log('debug') }
  logger.child = () => logger
  const api = Object.freeze({
    agent: request.agent,
    version: request.version,
    urlPrefix: request.urlPrefix,
    baseDir: process.cwd(),
    env: Object.freeze({ ...process.env }),
    log: logger,
    health: {
      add() {
        throw new Error('an isolated skill cannot add health checks')
      },
    },
    onClose: (fn: () => unknown) => void closers.push(fn),
    shared<T>(make: () => T): T {
      if (!shared.has('value')) shared.set('value', make())
      return shared.get('value') as T
    },
  })
  const parts = await definition.setup(request.config, api)
  if (typeof parts !== 'object' || parts === null || Array.isArray(parts)) return { id: request.id, ok: true, tools: [], refused: [`setup returned ${JSON.stringify(parts) ?? String(parts)}, not an object of parts`] }
  const refused = SERVER_PARTS.filter((part) => parts[part] !== undefined)
  const worker = request.workerPath === null ? null : await import(pathToFileURL(request.workerPath).href)
  const runners = new Map<string, Runner>()
  const specs: IsolatedToolSpec[] = []
  for (const tool of Array.isArray(parts.tools) ? parts.tools : []) {
    const hasRun = typeof tool?.run === 'function'
    const hasWorker = typeof tool?.worker === 'string'
    specs.push({
      name: tool?.name,
      description: tool?.description,
      parameters: tool?.parameters,
      scope: tool?.scope,
      timeoutMs: tool?.timeoutMs,
      runs: hasRun && hasWorker ? 'both' : hasRun ? 'run' : hasWorker ? 'worker' : 'neither',
    })
    if (hasRun) runners.set(tool.name, tool.run)
    else if (hasWorker && typeof worker?.[tool.worker] === 'function') runners.set(tool.name, (args) => worker[tool.worker](args))
  }
  tools.set(request.agent, runners)
  return { id: request.id, ok: true, tools: specs, prompts: parts.prompts, refused }
}

async function call(request: Extract<IsolateRequest, { type: 'call' }>): Promise<IsolateAnswer> {
  const run = tools.get(request.agent)?.get(request.tool)
  if (!run) throw new Error(`tool '${request.tool}' is not set up in this process`)
  const signal = new AbortController().signal
  const result = await run(request.args, { signal, context: { agent: request.agent, state: {} }, log: console })
  const text = result === undefined ? '' : typeof result === 'string' ? result : JSON.stringify(result)
  // Checked here, before it crosses: a huge result must never reach the server's memory.
  const bytes = Buffer.byteLength(text)
  if (bytes > request.maxResultBytes) throw new Error(`the result is ${bytes} bytes, more than the ${request.maxResultBytes} a tool may return`)
  return { id: request.id, ok: true, result: text }
}

process.on('message', (request: IsolateRequest) => {
  // Only the server speaks on this channel; a message is one of ours or ignored.
  if (request?.type !== 'setup' && request?.type !== 'call') return
  const work = request.type === 'setup' ? setup(request) : call(request)
  work.then(send, (error: unknown) => send({ id: request.id, ok: false, error: message(error) }))
})
process.on('disconnect', () => {
  // The server is gone (or closed the pool): run what the skill asked to run at close, then leave.
  void Promise.allSettled(closers.map((fn) => fn())).finally(() => process.exit(0))
})
