// createServer: the seed's create_server, on Fastify.
import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import cors from '@fastify/cors'
import { formatReport, type Problem } from '@robutler/registry'
import Fastify, { LogController, type FastifyInstance } from 'fastify'
import { ERR_ROUTE_NOT_FOUND, ERR_STARTUP, ERR_INVALID_REQUEST, type RobutlerError } from './errors.js'
import { sendError } from './http-errors.js'
import { Kernel } from './kernel.js'
import { IDENTITY } from './auth.js'
import { idSource } from './ids.js'
import { bootPlugins, closeUnstarted, drainAndClose } from './lifecycle.js'
import { closeLogger, createLogger } from './logger.js'
import { resolveSettings, type ServerOptions } from './options.js'
import { registerAgentRoutes } from './routes-agent.js'
import { registerChatRoutes } from './routes-chat.js'
import { registerServerRoutes } from './routes-server.js'
import { clientRequestId, logRequestEnd } from './request-log.js'
import { checkingIntervalMs, clientErrorHandler, limitConnectionsPerIp } from './http-edge.js'
import { installJsonBodyParser } from './json-safety.js'
import { staticAgentProblems } from './agent-check.js'
import { planStartup } from './startup.js'

export const KERNEL_VERSION: string = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version


/**
 * Headers for a JSON API: nothing here is a page to sniff, frame or cache. `frame-ancestors` supersedes
 * X-Frame-Options; a referrer policy has nothing to govern in a JSON body. Each header costs every response
 * (Node validates each one), so only these three.
 */
const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
  'cache-control': 'no-store',
}

/**
 * Fastify's genReqId: an id made here, unique per server, whatever the client sends (two clients' `x-request-id`
 * could be the same, or chosen to be). The client's own id is kept apart: clientRequestId().
 */
function requestIds(): () => string {
  const made = idSource(randomUUID().slice(0, 18))
  return function requestId() {
    return made()
  }
}

/** A server that refuses to start carries every problem found. */
export class StartupError extends Error {
  readonly code = ERR_STARTUP.code
  constructor(readonly problems: Problem[]) {
    super(ERR_STARTUP(formatReport(problems)).message)
    this.name = 'StartupError'
  }
}

export interface RobutlerServer {
  /** The Fastify instance. */
  readonly app: FastifyInstance
  readonly version: string
  /** Starts listening (default host and port from the options); resolves to the address, `http://127.0.0.1:8000`. */
  listen(options?: { host?: string; port?: number }): Promise<string>
  /** Drains in-flight requests (503 for new ones), then closes the listener and plugins in reverse order. */
  close(): Promise<void>
  readonly draining: boolean
}

function installHttpBasics(kernel: Kernel): void {
  const { app } = kernel
  installJsonBodyParser(app)
  app.decorateRequest('robutler', null)
  app.decorateRequest('robutlerError', null)
  app.decorateRequest(IDENTITY, null)
  app.addHook('onRequest', function baseHeaders(request, reply, done) {
    reply.headers(SECURITY_HEADERS)
    reply.header('x-request-id', request.id)
    const clientId = clientRequestId(request)
    if (clientId !== undefined) reply.header('x-client-request-id', clientId)
    if (kernel.events.has('request:start')) {
      kernel.events.emit('request:start', { requestId: request.id, method: request.method, url: request.url })
    }
    done()
  })
  app.addHook('onResponse', function requestEnd(request, reply, done) {
    logRequestEnd(kernel, request, reply)
    done()
  })
  app.setErrorHandler(function onError(error, request, reply) {
    const pub = kernel.publicError(error, request)
    request.robutlerError = pub.code
    if (pub.statusCode >= 500) request.log.error({ err: error, code: pub.code }, 'request failed')
    else request.log.debug({ code: pub.code, reason: pub.message }, 'request refused')
    if (reply.raw.destroyed) return
    return sendError(reply, pub)
  })
  app.setNotFoundHandler(function notFound(request, reply) {
    return sendError(reply, ERR_ROUTE_NOT_FOUND(request.method, request.url.slice(0, 200)))
  })
}

/**
 * Creates a Robutler server: finds, checks and boots the enabled plugins and skills, builds the agents and
 * registers the HTTP surface. Refuses to start (StartupError, every problem listed) on any load-time problem.
 * @example
 * const server = await createServer({
 *   title: 'Production Multi-Agent Server',
 *   agents: [defineAgent({ name: 'support', model: 'openai/gpt-4o' })],
 *   urlPrefix: '/api/v1',
 *   plugins: { '@robutler/plugin-openai': { apiKey: process.env.OPENAI_API_KEY } },
 * })
 * await server.listen({ host: '0.0.0.0', port: 8000 })
 */
export async function createServer(options: ServerOptions = {}): Promise<RobutlerServer> {
  const env = options.env ?? process.env
  const settings = resolveSettings(options, env)
  const plan = await planStartup(options, settings, env, KERNEL_VERSION)
  if (plan.problems.length > 0) throw new StartupError(plan.problems)

  const log = createLogger({ level: settings.logLevel, destination: options.logDestination, pretty: settings.logPretty, appDir: settings.appDir })
  // Typed as the default instance: plugins see `FastifyInstance`, whatever logger type pino infers.
  const app: FastifyInstance = Fastify({
    loggerInstance: log,
    // One line per request is written by our onResponse hook (agent, tokens, duration).
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: settings.bodyLimit,
    genReqId: requestIds(),
    requestIdHeader: false,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
    forceCloseConnections: 'idle',
    // Requests on open connections while closing reach our own draining answer (OpenAI-shaped, Retry-After).
    return503OnClosing: false,
    // Behind a load balancer, the client's address comes from X-Forwarded-For only when trusted.
    trustProxy: settings.trustProxy as boolean,
    // A client has this long to send the whole request (Fastify's default, 0, would let a slow body hold its
    // socket forever), and its headers within headersTimeout; Node checks every checkingIntervalMs.
    requestTimeout: settings.bodyTimeoutMs,
    http: { headersTimeout: Math.min(settings.headersTimeoutMs, settings.bodyTimeoutMs), connectionsCheckingInterval: checkingIntervalMs(settings) },
    clientErrorHandler: clientErrorHandler(settings),
    frameworkErrors: function frameworkError(error, _request, reply) {
      return sendError(reply, ERR_INVALID_REQUEST(`Bad request: ${error.message}`))
    },
  }) as unknown as FastifyInstance
  limitConnectionsPerIp(app.server, settings, log)
  if (settings.trustProxy === true) {
    log.warn(
      'server.trustProxy is true: any client can set X-Forwarded-For and so choose the address that rate limits and logs see; give the proxies\' addresses or CIDRs, or the number of proxy hops, instead',
    )
  }
  const kernel = new Kernel({ version: KERNEL_VERSION, settings, log, app, env })
  for (const [name, skill] of plan.skills) kernel.skills.set(name, skill)
  kernel.asyncContext =
    settings.asyncContext === 'auto'
      ? [...plan.plugins, ...plan.skills.values()].some((p) => (p.definition as { asyncContext?: boolean }).asyncContext === true)
      : settings.asyncContext

  try {
    installHttpBasics(kernel)
    if (settings.corsOrigins) {
      await app.register(cors, {
        origin: settings.corsOrigins.includes('*') ? '*' : settings.corsOrigins,
        methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
        exposedHeaders: ['x-request-id', 'x-client-request-id', 'retry-after', 'x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset'],
        maxAge: 600,
      })
    }
    await bootPlugins(kernel, plan.plugins)
    if (settings.workerThreads > 0 && [...kernel.skills.values()].some((skill) => skill.workerPath)) kernel.pool.warm()
    const agents = options.agents ?? []
    const problems = staticAgentProblems(agents, kernel.agentRules)
    if (problems.length > 0) throw new StartupError(problems)
    for (const config of agents) kernel.agents.static.set(config.name, await kernel.buildAgent(config))
    for (const agent of kernel.agents.static.values()) {
      if (agent.requireIdentity && !kernel.auth.enabled) {
        log.warn({ agent: agent.name }, 'this agent needs an identity but no authenticator is enabled: every request will get 401')
      }
    }
    if (options.dynamicAgents) {
      const dynamic = options.dynamicAgents
      kernel.agents.addLoader(async (name) => (await dynamic(name)) ?? null, { priority: Number.MAX_SAFE_INTEGER, name: 'dynamicAgents' })
    }
    registerServerRoutes(kernel)
    registerChatRoutes(kernel)
    kernel.surfaces.mount()
    registerAgentRoutes(kernel)
    await app.ready()
    for (const fn of kernel.readyFns) await fn()
  } catch (error) {
    await closeUnstarted(kernel).finally(() => closeLogger(log))
    throw error
  }
  kernel.booted = true
  kernel.startTimeoutSweep()

  let closing: Promise<void> | null = null
  return {
    app,
    version: KERNEL_VERSION,
    get draining() {
      return kernel.draining
    },
    async listen(listenOptions = {}) {
      return app.listen({ host: listenOptions.host ?? settings.host, port: listenOptions.port ?? settings.port })
    },
    close() {
      closing ??= drainAndClose(kernel).finally(() => closeLogger(log))
      return closing
    },
  }
}

export type { RobutlerError }
