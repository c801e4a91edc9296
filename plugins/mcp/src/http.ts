// One MCP request over stateless Streamable HTTP, on a Fastify route: a fresh SDK server and transport per HTTP
// request (no session, so any process of a cluster can answer any request), the body Fastify already parsed, and
// the transport's answer — JSON, or server-sent events when the client asked for progress — sent on the reply, so
// the kernel's hooks (CORS, request id, request log) apply as on every route.
import { Readable } from 'node:stream'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Server } from '@modelcontextprotocol/sdk/server/index.js'
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js'
import { ERR_MCP_ORIGIN_FORBIDDEN } from './errors.js'

type Message = { method?: unknown; params?: { _meta?: { progressToken?: unknown } } }

/** True when a `tools/call` of the body asks for progress notifications: only then is the answer a stream. */
export function wantsProgress(body: unknown): boolean {
  const messages = (Array.isArray(body) ? body : [body]) as Message[]
  return messages.some((m) => m?.method === 'tools/call' && m.params?._meta?.progressToken !== undefined)
}

/** Refuses a browser page of an origin the operator did not allow (DNS rebinding); clients send no Origin. */
export function checkOrigin(request: FastifyRequest, allowed: ReadonlySet<string>): void {
  const origin = request.headers.origin
  if (origin === undefined || allowed.has('*') || allowed.has(origin)) return
  throw ERR_MCP_ORIGIN_FORBIDDEN(origin.slice(0, 200))
}

function webHeaders(request: FastifyRequest): Headers {
  const headers = new Headers()
  for (const [name, value] of Object.entries(request.headers)) {
    if (value === undefined) continue
    if (Array.isArray(value)) for (const one of value) headers.append(name, one)
    else headers.set(name, value)
  }
  return headers
}

/** Answers one POST with `server`; the server and transport are closed when the response is. */
export async function serveMcp(server: Server, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: !wantsProgress(request.body) })
  await server.connect(transport)
  reply.raw.once('close', () => void server.close().catch(() => undefined))
  const url = `http://${request.headers.host ?? '127.0.0.1'}${request.url}`
  const response = await transport.handleRequest(new Request(url, { method: request.method, headers: webHeaders(request) }), { parsedBody: request.body })
  reply.code(response.status)
  response.headers.forEach((value, name) => void reply.header(name, value))
  if (response.body === null) return reply.send()
  if (response.headers.get('content-type')?.startsWith('text/event-stream')) return reply.send(Readable.fromWeb(response.body as any))
  return reply.send(await response.text())
}
