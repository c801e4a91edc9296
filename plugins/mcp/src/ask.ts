// The tool every agent offers over MCP: `ask_<agent>` sends a message (after earlier turns, when given) to the agent
// and answers with its reply. While the agent works it sends progress notifications, when the client asked for
// them; a run that fails is a tool result with isError, as MCP wants tool failures reported.
import { isRobutlerError, type AgentEvent, type AgentSession, type AgentSummary, type ChatMessage } from '@robutler/kernel'
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js'
import { ErrorCode, McpError, type CallToolResult, type ServerNotification, type ServerRequest, type Tool } from '@modelcontextprotocol/sdk/types.js'

export type CallExtra = RequestHandlerExtra<ServerRequest, ServerNotification>

const PREFIX = 'ask_'

const INPUT_SCHEMA: Tool['inputSchema'] = {
  type: 'object',
  properties: {
    message: { type: 'string', description: 'What to ask or tell the agent.' },
    history: {
      type: 'array',
      description: 'Earlier turns of the conversation, oldest first, when the agent should see them (the server keeps no state between calls).',
      items: {
        type: 'object',
        properties: { role: { type: 'string', enum: ['user', 'assistant'] }, content: { type: 'string' } },
        required: ['role', 'content'],
      },
    },
  },
  required: ['message'],
}

/** `ask_<agent>`: the agent tool's name. */
export function askName(agent: string): string {
  return `${PREFIX}${agent}`
}

/** The agent a tool name asks, or null when the name is no agent tool's. */
export function agentOfTool(name: string): string | null {
  return name.startsWith(PREFIX) && name.length > PREFIX.length ? name.slice(PREFIX.length) : null
}

/** The agent tool as tools/list shows it: the agent's description is the tool's. */
export function askTool(agent: AgentSummary): Tool {
  return {
    name: askName(agent.name),
    title: `Ask ${agent.name}`,
    description: agent.description || `Sends a message to the agent '${agent.name}' and answers with its reply.`,
    inputSchema: INPUT_SCHEMA,
    annotations: { title: `Ask ${agent.name}`, readOnlyHint: false, openWorldHint: true },
  }
}

function conversationOf(args: Record<string, unknown> | undefined): ChatMessage[] {
  const message = args?.message
  if (typeof message !== 'string') throw new McpError(ErrorCode.InvalidParams, "'message' is required and must be a string")
  const history = args?.history ?? []
  if (!Array.isArray(history)) throw new McpError(ErrorCode.InvalidParams, "'history' must be an array of { role, content }")
  const messages: ChatMessage[] = history.map((turn: any, index) => {
    if ((turn?.role !== 'user' && turn?.role !== 'assistant') || typeof turn.content !== 'string') {
      throw new McpError(ErrorCode.InvalidParams, `'history[${index}]' must be { role: 'user' | 'assistant', content: string }`)
    }
    return { role: turn.role, content: turn.content }
  })
  messages.push({ role: 'user', content: message })
  return messages
}

/** A failed run as the client reads it: the code and the message of a Robutler error, never more. */
export function failedResult(error: unknown): CallToolResult {
  const text = isRobutlerError(error) ? `${error.code}: ${error.message}` : 'RBT_ERR_INTERNAL: the agent failed; the server log has the details'
  return { isError: true, content: [{ type: 'text', text }] }
}

/** What to tell a client that asked for progress, for one event of the run (null: nothing). */
function progressText(agent: string, event: AgentEvent): string | null {
  switch (event.type) {
    case 'model-start':
      return `${agent} is answering (${event.model})`
    case 'tool-call':
      return event.external ? null : `${agent} calls ${event.call.function.name}`
    case 'tool-result':
      return `${event.name} ${event.error ? 'failed' : 'answered'}`
    default:
      return null
  }
}

/** What `ask` needs of the HTTP request it runs in. */
export interface AskRequest {
  /** Resolves once the response has been written to its end (or the client left). */
  written: Promise<void>
}

/**
 * Runs the agent on the tool's arguments. When the response is a stream (the client asked for progress) and the
 * run fails after it started, the kernel tells the sink an `error` event and ends the response once the sink is
 * done: the sink hands the failure to the handler as its result and waits until that result has been written.
 * A run that fails before (a whole JSON answer) rejects, and the failure is the tool's result.
 */
export async function ask(session: AgentSession, args: Record<string, unknown> | undefined, extra: CallExtra, http: AskRequest): Promise<CallToolResult> {
  const messages = conversationOf(args)
  const token = extra._meta?.progressToken
  const agent = session.agent.name
  let progress = 0
  let failed!: (result: CallToolResult) => void
  const failure = new Promise<CallToolResult>((resolve) => (failed = resolve))
  const sink = (event: AgentEvent): void | Promise<void> => {
    if (event.type === 'error') {
      failed(failedResult(event.error))
      return http.written
    }
    if (token === undefined) return
    const message = progressText(agent, event)
    if (message === null) return
    progress++
    void extra.sendNotification({ method: 'notifications/progress', params: { progressToken: token, progress, message } }).catch(() => undefined)
  }
  const run = session.run({ messages, params: {}, stream: token !== undefined }, sink).then(
    (result): CallToolResult => (result === null ? failedResult(null) : { content: [{ type: 'text', text: result.message.content ?? '' }] }),
    (error: unknown): CallToolResult => {
      // A Robutler error is the client's to read; anything else is ours to look into.
      if (!isRobutlerError(error)) session.context.log.error({ err: error }, 'MCP ask failed')
      return failedResult(error)
    },
  )
  return Promise.race([run, failure])
}
