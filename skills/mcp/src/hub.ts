// Every MCP connection of one server (kernel), by agent and server name: built once, kept across the builds of a
// reloaded agent while its config for the server stays the same, each named in /ready while it is down, and all
// stopped when the server closes — or killed at once if the process exits without closing.
import { isDeepStrictEqual } from 'node:util'
import type { SkillApi } from '@robutler/kernel'
import type { ServerPlan } from './config.js'
import { McpConnection } from './connection.js'
import { redactor } from './redact.js'
import type { AgentServer } from './agent-tools.js'

function keyOf(agent: string, server: string): string {
  return `${agent}/${server}`
}

export class McpHub {
  readonly #connections = new Map<string, McpConnection>()
  /** Health checks registered (one per agent and server name, for the server's lifetime). */
  readonly #checked = new Set<string>()
  #closed = false
  readonly #killAll = () => {
    for (const connection of this.#connections.values()) connection.killNow()
  }

  constructor(kernel: SkillApi) {
    kernel.onClose(() => this.close())
    process.on('exit', this.#killAll)
  }

  /**
   * The connections of an agent's servers: the ones it had when their config is unchanged, new ones otherwise;
   * servers the agent no longer names are stopped.
   */
  attach(kernel: SkillApi, plans: ServerPlan[]): AgentServer[] {
    if (this.#closed) throw new Error('the server is closing')
    const agent = kernel.agent
    const wanted = new Set(plans.map((plan) => keyOf(agent, plan.name)))
    for (const [key, connection] of this.#connections) {
      if (key.startsWith(`${agent}/`) && !wanted.has(key)) {
        this.#connections.delete(key)
        void connection.stop()
      }
    }
    return plans.map((plan) => {
      const key = keyOf(agent, plan.name)
      const redact = redactor(plan.secrets)
      let connection = this.#connections.get(key)
      if (connection !== undefined && !isDeepStrictEqual(connection.endpoint, plan.endpoint)) {
        void connection.stop()
        connection = undefined
      }
      if (connection === undefined) {
        connection = new McpConnection({
          agent,
          server: plan.name,
          endpoint: plan.endpoint,
          redact,
          log: kernel.log,
          clientInfo: { name: 'robutler', version: kernel.version },
        })
        this.#connections.set(key, connection)
      }
      this.#check(kernel, key)
      return { plan, connection, redact }
    })
  }

  /** Stops every server (their process groups included); resolves when they are gone. */
  async close(): Promise<void> {
    this.#closed = true
    const all = [...this.#connections.values()]
    this.#connections.clear()
    await Promise.all(all.map((connection) => connection.stop()))
    process.off('exit', this.#killAll)
  }

  #check(kernel: SkillApi, key: string): void {
    if (this.#checked.has(key)) return
    this.#checked.add(key)
    kernel.health.add(`mcp ${key}`, () => {
      const problem = this.#connections.get(key)?.problem()
      if (problem) throw new Error(`MCP server '${key}' is ${problem}`)
    })
  }
}
