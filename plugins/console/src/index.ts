// @robutler/plugin-console: an operator console at {urlPrefix}/console. A page built with the package (no CDN, no
// third-party request), and a small JSON API under it for admins: the agents, a chat per agent that shows tool
// steps, live figures each second from the kernel's events, the recent requests, and the installed packages.
import { definePlugin, SseStream, type KernelApi, type ServerRouteHandler } from '@robutler/kernel'
import type { FastifyRequest } from 'fastify'
import { checkAdmin, checkPage, type AccessMode } from './access.js'
import { Assets } from './assets.js'
import { runChat } from './chat.js'
import { answerGathers, recentOfAll, secondsOfAll } from './cluster.js'
import { ERR_CONSOLE_NOT_FOUND } from './errors.js'
import { Recorder, type RecentRequest } from './recorder.js'

export { isLoopback } from './access.js'
export type { RecentRequest, Snapshot } from './recorder.js'

export interface ConsolePluginConfig {
  /** Where the console is served under urlPrefix (default `/console`). */
  path?: string
  /** How many finished requests to keep (default 500). */
  recent?: number
}

function filterRecent(list: RecentRequest[], query: Record<string, string | undefined>): RecentRequest[] {
  const { agent, status, surface, error, q } = query
  return list.filter(
    (r) =>
      (!agent || r.agent === agent) &&
      (!surface || r.surface === surface) &&
      (!status || String(r.status).startsWith(status)) &&
      (!error || r.error === error) &&
      (!q || `${r.id} ${r.agent ?? ''} ${r.route} ${r.error ?? ''}`.includes(q)),
  )
}

export function consoleRoutes(kernel: KernelApi, config: ConsolePluginConfig) {
  const path = config.path ?? '/console'
  const assets = new Assets(`${kernel.urlPrefix}${path}`, kernel.urlPrefix)
  const recorder = new Recorder(kernel, config.recent ?? 500, `${kernel.urlPrefix}${path}`)
  // Decided per request: authenticators register while plugins boot, possibly after this one.
  const mode = (): AccessMode => (kernel.auth.enabled ? 'admin-key' : 'loopback')
  const closing = new AbortController()

  const page: ServerRouteHandler = function consolePage(_call, request, reply) {
    checkPage(mode(), request)
    return assets.send('index.html', request, reply)
  }

  const asset: ServerRouteHandler = function consoleAsset(_call, request, reply) {
    checkPage(mode(), request)
    const file = (request.params as { file: string }).file
    if (!assets.has(file) || file === 'index.html') throw ERR_CONSOLE_NOT_FOUND(`file '${file.slice(0, 100)}'`)
    return assets.send(file, request, reply)
  }

  /** The JSON API: admins only, never cached. */
  const api = (answer: (request: FastifyRequest) => unknown): ServerRouteHandler =>
    async function consoleApi(call, request, reply) {
      checkAdmin(mode(), request, call.identity)
      reply.header('cache-control', 'no-store')
      return answer(request)
    }

  const session = api(() => ({
    mode: mode(),
    version: kernel.version,
    urlPrefix: kernel.urlPrefix,
    recent: config.recent ?? 500,
    // plugin-usage's documented endpoint, when some plugin serves it: the page then shows spend.
    usage: kernel.http.hasRoute({ method: 'GET', url: `${kernel.urlPrefix}/usage` }),
  }))
  const agents = api(() => ({ agents: kernel.agents.describe(), cache: kernel.agents.stats() }))
  const packages = api(() => kernel.packages())
  const size = config.recent ?? 500
  const requests = api(async (request) => ({ requests: filterRecent(await recentOfAll(kernel, size), request.query as Record<string, string>) }))
  const requestDetail = api(async (request) => {
    const id = (request.params as { id: string }).id
    const found = (await recentOfAll(kernel, size)).find((r) => r.id === id)
    if (!found) throw ERR_CONSOLE_NOT_FOUND(`request '${id.slice(0, 100)}' among the last ${config.recent ?? 500}`)
    return found
  })

  /** The figures as server-sent events, every process's: the last minute at once, then one snapshot a second. */
  const figures: ServerRouteHandler = async function consoleFigures(call, request, reply) {
    checkAdmin(mode(), request, call.identity)
    const left = new AbortController()
    const stop = () => left.abort()
    closing.signal.addEventListener('abort', stop, { once: true })
    reply.raw.once('close', stop)
    // The connection ends with the stream: a closing server then has no busy keep-alive socket to wait for.
    reply.header('connection', 'close')
    const sse = new SseStream(reply, { signal: left.signal })
    const seconds = secondsOfAll(kernel)
    await sse.send({ history: await seconds.history() })
    const timer = setInterval(function sendSecond() {
      seconds
        .fresh()
        .then(async (fresh) => {
          for (const snapshot of fresh) await sse.send(snapshot)
        })
        .catch((error) => {
          // A viewer that left aborts the write it was waiting on: its stream ends below. Anything else is a bug.
          if (!left.signal.aborted) kernel.log.error({ err: error }, 'console figures stream failed')
          stop()
        })
    }, 1000)
    await new Promise<void>((resolve) => left.signal.addEventListener('abort', () => resolve(), { once: true }))
    clearInterval(timer)
    closing.signal.removeEventListener('abort', stop)
    sse.end()
  }

  return {
    path,
    recorder,
    assets,
    closing,
    definition: {
      server: [
        { method: 'GET' as const, path, handler: page },
        { method: 'GET' as const, path: `${path}/assets/:file`, handler: asset },
        { method: 'GET' as const, path: `${path}/api/session`, handler: session },
        { method: 'GET' as const, path: `${path}/api/agents`, handler: agents },
        { method: 'GET' as const, path: `${path}/api/packages`, handler: packages },
        { method: 'GET' as const, path: `${path}/api/requests`, handler: requests },
        { method: 'GET' as const, path: `${path}/api/requests/:id`, handler: requestDetail },
        { method: 'GET' as const, path: `${path}/api/figures`, handler: figures },
      ],
      model: [
        {
          method: 'POST' as const,
          path: `${path}/chat`,
          agentOf: (request: FastifyRequest) => (request.body as { model?: unknown }).model,
          handler: async (agentSession: Parameters<typeof runChat>[0], request: FastifyRequest) => {
            checkAdmin(mode(), request, agentSession.context.identity)
            await runChat(agentSession, request.body)
          },
        },
      ],
    },
  }
}

export default definePlugin<ConsolePluginConfig>({
  name: 'console',
  register(kernel, config) {
    const routes = consoleRoutes(kernel, config)
    kernel.surfaces.add(routes.definition)
    routes.recorder.start()
    answerGathers(kernel, routes.recorder)
    kernel.onReady(() => kernel.log.info({ url: `${kernel.urlPrefix}${routes.path}`, access: kernel.auth.enabled ? 'admin keys' : 'loopback only' }, 'console served'))
    // Open figure streams end before the server closes its connections, so a drain does not wait on them.
    kernel.http.addHook('preClose', function endConsoleStreams(done) {
      routes.closing.abort()
      done()
    })
    kernel.onClose(() => {
      routes.closing.abort()
      routes.recorder.stop()
    })
  },
})
