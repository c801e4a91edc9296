// @robutler/skill-mcp: MCP servers' tools as an agent's tools. Stdio servers run as child processes for the server's
// lifetime (restarted with backoff, stopped at shutdown); remote ones are reached over Streamable HTTP, or SSE.
import { defineSkill } from '@robutler/kernel'
import { AgentTools } from './agent-tools.js'
import { plansOf, type McpConfig } from './config.js'
import { McpHub } from './hub.js'

export type { McpConfig, RemoteServerConfig, ServerConfig, StdioServerConfig } from './config.js'
export { resultText } from './results.js'

/**
 * @example
 * // robutler.config.json
 * { "agents": [{ "name": "echo", "model": "local/echo", "skills": { "@robutler/skill-mcp": {
 *     "servers": { "memory": { "command": "npx", "args": ["-y", "@modelcontextprotocol/server-memory"] } } } } }] }
 * // the model sees memory__create_entities, memory__read_graph, …
 */
export default defineSkill<McpConfig>({
  name: 'mcp',
  async setup(config, kernel) {
    const plans = plansOf(config, kernel.env, kernel.baseDir)
    const hub = kernel.shared(() => new McpHub(kernel))
    const servers = hub.attach(kernel, plans)
    // Built once with the tools the servers have by then; the rest arrive as they connect.
    await Promise.all(servers.map(({ plan, connection }) => connection.settled(plan.startupTimeoutMs)))
    return { toolSource: new AgentTools(kernel.agent, config, servers, kernel.log) }
  },
})
