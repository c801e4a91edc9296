// @robutler/plugin-mcp: every agent as an MCP server. POST {urlPrefix}/{agent}/mcp speaks stateless Streamable HTTP
// (no session: any process behind any load balancer answers any request) with the kernel's admission — API keys,
// access rules, rate limits, the request log and metrics — in front; POST {urlPrefix}/mcp serves every agent the
// caller may use. The tool `ask_<agent>` runs the agent; with `exposeTools`, the agent's own skill tools too.
import { definePlugin, type AgentRouteHandler, type KernelApi, type ServerRouteHandler } from '@robutler/kernel'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { AskRequest } from './ask.js'
import { ERR_MCP_METHOD_NOT_ALLOWED } from './errors.js'
import { checkOrigin, serveMcp } from './http.js'
import { agentServer, allAgentsServer } from './servers.js'

export { askName, askTool } from './ask.js'

export interface McpPluginConfig {
  /** Per agent: `exposeTools` offers the agent's own tools (those the caller may see) next to its ask tool. */
  agents?: Record<string, { exposeTools?: boolean }>
  /** Browser origins allowed to call the endpoints ("*": any); requests of other origins are refused. */
  allowedOrigins?: string[]
}

/** A promise of the response's end, for the ask tool. */
function httpOf(reply: FastifyReply): AskRequest {
  return { written: new Promise((resolve) => reply.raw.once('close', () => resolve())) }
}

function notAllowed(request: FastifyRequest, reply: FastifyReply): never {
  reply.header('allow', 'POST')
  throw ERR_MCP_METHOD_NOT_ALLOWED(request.method === 'GET' ? 'GET stream (server-sent events)' : 'session to DELETE')
}

export function mcpRoutes(kernel: KernelApi, config: McpPluginConfig) {
  const origins = new Set(config.allowedOrigins ?? [])
  const exposing = new Set(Object.entries(config.agents ?? {}).filter(([, agent]) => agent.exposeTools === true).map(([name]) => name))

  const agentEndpoint: AgentRouteHandler = function agentMcp(session, request, reply) {
    checkOrigin(request, origins)
    if (request.method !== 'POST') return notAllowed(request, reply)
    const server = agentServer(session, kernel.version, exposing.has(session.agent.name), httpOf(reply))
    return serveMcp(server, request, reply)
  }

  const serverEndpoint: ServerRouteHandler = function allAgentsMcp(call, request, reply) {
    checkOrigin(request, origins)
    if (request.method !== 'POST') return notAllowed(request, reply)
    return serveMcp(allAgentsServer(call, kernel.version, httpOf(reply)), request, reply)
  }

  return { agentEndpoint, serverEndpoint }
}

export default definePlugin<McpPluginConfig>({
  name: 'mcp',
  register(kernel, config) {
    const { agentEndpoint, serverEndpoint } = mcpRoutes(kernel, config)
    kernel.surfaces.add({
      agent: [{ method: ['POST', 'GET', 'DELETE'], path: '/mcp', handler: agentEndpoint }],
      server: [{ method: ['POST', 'GET', 'DELETE'], path: '/mcp', handler: serverEndpoint }],
    })
  },
})
