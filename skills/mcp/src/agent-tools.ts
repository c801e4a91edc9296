// What one agent's build offers from its MCP servers: each live server's tools, named `{prefix}{tool}`, picked by
// the config's lists, scoped, with the server's JSON Schema and description; a call goes to the server with the
// kernel's time limit and the request's abort, and its result comes back as the text the model reads.
import type { JsonSchema, Scope, SkillTool, SkillToolSource, ToolRunContext } from '@robutler/kernel'
import type { Tool } from '@modelcontextprotocol/sdk/types.js'
import type { Logger } from 'pino'
import { picker, type McpConfig, type ServerPlan } from './config.js'
import type { McpConnection } from './connection.js'
import type { Redact } from './redact.js'
import { resultText } from './results.js'

/** OpenAI's limit on a function's name, which the kernel holds tools to. */
const MAX_NAME = 64

export interface AgentServer {
  plan: ServerPlan
  connection: McpConnection
  redact: Redact
}

/** The server's input schema as the kernel compiles it: a draft marker ajv may not know is left out. */
function parametersOf(tool: Tool): JsonSchema {
  const { $schema: _draft, ...rest } = (tool.inputSchema ?? {}) as JsonSchema
  return { ...rest, type: 'object' }
}

/** The description the model reads: the server's, with its annotations' hints. */
function descriptionOf(tool: Tool): string {
  const text = tool.description ?? tool.title ?? tool.annotations?.title ?? tool.name
  const hints: string[] = []
  const a = tool.annotations
  if (a?.readOnlyHint === true) hints.push('read-only')
  if (a?.destructiveHint === true && a.readOnlyHint !== true) hints.push('destructive')
  if (a?.idempotentHint === true) hints.push('idempotent')
  if (a?.openWorldHint === true) hints.push('reaches outside systems')
  return hints.length > 0 ? `${text} (${hints.join(', ')})` : text
}

function exposedName(prefix: string, tool: string): string {
  return `${prefix}${tool.replace(/[^a-zA-Z0-9_-]/g, '_')}`.slice(0, MAX_NAME)
}

function callTool(server: AgentServer, tool: string) {
  return async function mcpTool(args: Record<string, unknown>, ctx: ToolRunContext): Promise<string> {
    const result = await server.connection.call(tool, args, ctx.signal, server.plan.timeoutMs, ctx.propagation).catch((error: unknown) => {
      // The kernel logs a failed call's message: never with a secret of the config in it.
      throw new Error(server.redact(error instanceof Error ? error.message : String(error)))
    })
    const text = resultText(result)
    if (result.isError === true) throw new Error(server.redact(text || 'the tool reported an error'))
    return text
  }
}

export class AgentTools implements SkillToolSource {
  readonly #servers: AgentServer[]
  readonly #picks: (name: string) => boolean
  readonly #scopes: Record<string, Scope>
  readonly #log: Logger
  readonly #agent: string
  #changed: (() => void) | null = null
  /** The SkillTool made for each MCP tool object while the server's list holds it: its schema is compiled once. */
  readonly #made = new WeakMap<Tool, SkillTool>()

  constructor(agent: string, config: McpConfig, servers: AgentServer[], log: Logger) {
    this.#agent = agent
    this.#servers = servers
    this.#picks = picker(config.tools, config.exclude)
    this.#scopes = config.scopes ?? {}
    this.#log = log
    for (const server of servers) server.connection.onChange(() => this.#changed?.())
  }

  watch(changed: () => void): void {
    this.#changed = changed
  }

  tools(): SkillTool[] {
    const tools: SkillTool[] = []
    const names = new Set<string>()
    for (const server of this.#servers) {
      const { plan, connection } = server
      for (const tool of connection.tools) {
        if (!plan.picks(tool.name)) continue
        const name = exposedName(plan.prefix, tool.name)
        if (!this.#picks(name)) continue
        if (names.has(name)) {
          this.#log.warn({ agent: this.#agent, server: plan.name, tool: tool.name, name }, 'two MCP tools would have the same name; the second is left out')
          continue
        }
        names.add(name)
        tools.push(this.#skillTool(server, tool, name))
      }
    }
    return tools
  }

  #skillTool(server: AgentServer, tool: Tool, name: string): SkillTool {
    const made = this.#made.get(tool)
    if (made !== undefined && made.name === name) return made
    const skillTool: SkillTool = {
      name,
      description: descriptionOf(tool),
      parameters: parametersOf(tool),
      scope: this.#scopes[name] ?? server.plan.scope,
      timeoutMs: server.plan.timeoutMs,
      run: callTool(server, tool.name),
      remote: 'mcp',
    }
    this.#made.set(tool, skillTool)
    return skillTool
  }
}
