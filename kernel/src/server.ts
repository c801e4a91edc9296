// createServer: the seed's create_server, on Fastify.
import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import cors from '@fastify/cors'
import Fastify, { LogController, type FastifyInstance, type FastifyRequest } from 'fastify'
import { ERR_ROUTE_NOT_FOUND, ERR_INVALID_REQUEST, ERR_LISTEN_FAILED, ERR_SKILL_SETUP_FAILED, isRobutlerError, type RobutlerError } from './errors.js'
import type { Problem } from '@robutler/registry'
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
import type { ErrorAnswer } from './surface-types.js'
import type { RouteConfig } from './surfaces.js'
import { planStartup } from './startup.js'
import { StartupError } from './startup-error.js'

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

export { StartupError }

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

/** The error in the shape of the surface whose route failed, when it renders its own (SurfaceDefinition.errors). */
function surfaceAnswer(request: FastifyRequest, error: RobutlerError): ErrorAnswer | undefined {
  const render = (request.routeOptions.config as RouteConfig | undefined)?.robutler?.errors
  if (render === undefined) return undefined
  try {
    return render(error, request)
  } catch (renderError) {
    request.log.error({ err: renderError }, "a surface's error renderer threw; answering OpenAI-shaped")
    return undefined
  }
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
    return sendError(reply, pub, surfaceAnswer(request, pub))
  })
  app.setNotFoundHandler(function notFound(request, reply) {
    return sendError(reply, ERR_ROUTE_NOT_FOUND(request.method, request.url.slice(0, 200)))
  })
}

/** An agent that could not be built, as a load-time problem (its skills' setup threw, or two share a tool name). */
function buildProblem(error: unknown, where: string): Problem {
  const message = `${where}${(error as Error)?.message ?? String(error)}`
  if (isRobutlerError(error) && error.code === ERR_SKILL_SETUP_FAILED.code) {
    return { code: error.code, message, hint: "check the skill's config for this agent: its entry in `skills` and in the agent's `skills` map" }
  }
  return { code: isRobutlerError(error) ? error.code : ERR_SKILL_SETUP_FAILED.code, message }
}

/** A listen that failed, coded: the address in use or not allowed says what to pass instead. */
function listenFailed(error: NodeJS.ErrnoException, host: string, port: number): RobutlerError {
  const address = `${host}:${port}`
  if (error?.code === 'EADDRINUSE') return ERR_LISTEN_FAILED(address, `the port is in use by another process: stop it, or serve on another port (--port, ROBUTLER_PORT or server.port)`, error)
  if (error?.code === 'EACCES') return ERR_LISTEN_FAILED(address, `not allowed (ports below 1024 need privileges): use a port above 1023 (--port, ROBUTLER_PORT or server.port)`, error)
  if (error?.code === 'EADDRNOTAVAIL' || error?.code === 'ENOTFOUND') return ERR_LISTEN_FAILED(address, `no such address on this machine: use 127.0.0.1, 0.0.0.0 or one of its addresses (--host, ROBUTLER_HOST or server.host)`, error)
  return ERR_LISTEN_FAILED(address, error?.message ?? String(error), error)
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
  kernel.startupReport = plan.report
  for (const [name, skill] of plan.skills) kernel.skills.set(name, skill)
  kernel.asyncContext =
    settings.asyncContext === 'auto'
      ? [...plan.plugins, ...plan.skills.values()].some((p) => (p.definition as { asyncContext?: boolean } | null)?.asyncContext === true)
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
    const source = options.configSource
    const where = source ? (i: number) => `${source.locate(['agents', i])}: ` : () => ''
    const problems = staticAgentProblems(agents, kernel.agentRules, where)
    // Every agent is built, so that each one whose skills fail to set up is reported, not the first.
    if (problems.length === 0) {
      for (const [i, config] of agents.entries()) {
        try {
          kernel.agents.static.set(config.name, await kernel.buildAgent(config))
        } catch (error) {
          problems.push(buildProblem(error, where(i)))
        }
      }
    }
    if (problems.length > 0) throw new StartupError(problems)
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
      const host = listenOptions.host ?? settings.host
      const port = listenOptions.port ?? settings.port
      try {
        return await app.listen({ host, port })
      } catch (error) {
        throw listenFailed(error as NodeJS.ErrnoException, host, port)
      }
    },
    close() {
      closing ??= drainAndClose(kernel).finally(() => closeLogger(log))
      return closing
    },
  }
}

export type { RobutlerError }
