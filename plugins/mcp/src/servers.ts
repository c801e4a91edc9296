// The MCP server one HTTP request talks to, made for it: for one agent (its ask tool, and its own skill tools when
// the operator exposes them), or for every agent the caller may use (their ask tools).
import type { AgentSession, AgentSummary, SurfaceCall, ToolDefinition } from '@robutler/kernel'
import { Server } from '@modelcontextprotocol/sdk/server/index.js'
import { CallToolRequestSchema, ErrorCode, ListToolsRequestSchema, McpError, type CallToolResult, type Tool } from '@modelcontextprotocol/sdk/types.js'
import { agentOfTool, ask, askName, askTool, failedResult, type AskRequest } from './ask.js'

/** One of the agent's own tools as MCP lists it. */
function mcpTool(definition: ToolDefinition): Tool {
  const { name, description, parameters } = definition.function
  return { name, description: description ?? '', inputSchema: { ...(parameters ?? {}), type: 'object' } as Tool['inputSchema'] }
}

function unknownTool(name: string): McpError {
  return new McpError(ErrorCode.InvalidParams, `Unknown tool: ${name}`)
}

function serverOf(name: string, version: string): Server {
  return new Server({ name, version }, { capabilities: { tools: {} } })
}

/** The MCP server of one agent: `ask_<agent>`, and with `exposeTools` the agent's tools the caller may see. */
export function agentServer(session: AgentSession, version: string, exposeTools: boolean, http: AskRequest): Server {
  const agent = session.agent
  const server = serverOf(agent.name, version)
  const own = askName(agent.name)
  // The agent's tools this caller sees; a name the ask tool has stays the ask tool's.
  const visible = () => (exposeTools ? session.tools().filter((tool) => tool.function.name !== own) : [])
  server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: [askTool(agent), ...visible().map(mcpTool)] }))
  server.setRequestHandler(CallToolRequestSchema, async (request, extra): Promise<CallToolResult> => {
    const { name, arguments: args } = request.params
    if (name === own) return ask(session, args, extra, http)
    // A tool above the caller's scope is not listed, so it is not known either.
    if (!visible().some((tool) => tool.function.name === name)) throw unknownTool(name)
    const result = await session.callTool(name, args ?? {})
    return { content: [{ type: 'text', text: result.content }], isError: result.error === true }
  })
  return server
}

/** The MCP server of every agent the caller may use: one `ask_<agent>` tool each. */
export function allAgentsServer(call: SurfaceCall, version: string, http: AskRequest): Server {
  const server = serverOf('robutler', version)
  const listed = (): AgentSummary[] => call.agents()
  server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: listed().map(askTool) }))
  server.setRequestHandler(CallToolRequestSchema, async (request, extra): Promise<CallToolResult> => {
    const { name, arguments: args } = request.params
    const agent = agentOfTool(name)
    if (agent === null || !listed().some((summary) => summary.name === agent)) throw unknownTool(name)
    let session: AgentSession
    try {
      session = await call.open(agent)
    } catch (error) {
      return failedResult(error)
    }
    return ask(session, args, extra, http)
  })
  return server
}
