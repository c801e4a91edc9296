// The server's side of isolated skills: a proxy per skill whose setup and tool calls go, as messages, to the
// isolation host thread (isolation-host.ts), which owns the processes. An aborted call (the client left, the tool
// timed out) is aborted there too, ending the process that ran it.
import { Worker } from 'node:worker_threads'
import type { Logger } from 'pino'
import { ERR_POOL_SATURATED } from './errors.js'
import type { HostAnswer, HostRequest } from './isolation-host.js'
import type { IsolatedParts, IsolatedSkillOptions, IsolatedToolSpec } from './isolation.js'
import type { SkillParts, SkillTool } from './types.js'

const HOST = new URL('./isolation-host.js', import.meta.url)

type Distribute<T> = T extends unknown ? Omit<T, 'id'> : never

/** The host thread of one server, started with the first isolated skill. */
export class IsolationHost {
  readonly #worker: Worker
  readonly #pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>()
  #nextId = 1
  #dead: Error | null = null

  constructor(log: Logger) {
    this.#worker = new Worker(HOST)
    this.#worker.on('message', (answer: HostAnswer) => {
      if ('log' in answer) return void log[answer.log](answer.object, answer.message)
      const pending = this.#pending.get(answer.id)
      if (!pending) return
      this.#pending.delete(answer.id)
      if (answer.ok) pending.resolve(answer.value)
      else pending.reject(answer.code === ERR_POOL_SATURATED.code ? ERR_POOL_SATURATED('some') : new Error(answer.error))
    })
    this.#worker.on('error', (error) => {
      log.error({ err: error }, 'the isolation host thread failed')
      this.#fail(error)
    })
    this.#worker.on('exit', () => this.#fail(new Error('the isolation host thread has ended')))
  }

  /** Every request waiting and every later one fails: there is no thread to answer them. */
  #fail(error: Error): void {
    this.#dead ??= error
    for (const pending of this.#pending.values()) pending.reject(error)
    this.#pending.clear()
  }

  /** Sends a request; resolves with its answer. `onId` learns the request's id (to abort a call). */
  request(request: Distribute<HostRequest>, onId?: (id: number) => void): Promise<unknown> {
    if (this.#dead) return Promise.reject(this.#dead)
    const id = this.#nextId++
    onId?.(id)
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject })
      this.#worker.postMessage({ ...request, id })
    })
  }

  async close(): Promise<void> {
    await this.#worker.terminate()
  }
}

/** One isolated skill, as the kernel holds it: setup per agent, and its tools' calls into the host. */
export class IsolatedSkill {
  readonly #host: IsolationHost
  readonly #name: string
  readonly #opened: Promise<unknown>

  constructor(host: IsolationHost, options: Omit<IsolatedSkillOptions, 'log'>) {
    this.#host = host
    this.#name = options.name
    this.#opened = host.request({ type: 'open', skill: options.name, options })
  }

  async setup(agent: string, config: Record<string, unknown>): Promise<SkillParts> {
    await this.#opened
    const answer = (await this.#host.request({ type: 'setup', skill: this.#name, agent, config })) as IsolatedParts
    const parts: SkillParts = { tools: answer.tools.map((spec) => this.#tool(agent, spec)) }
    if (answer.prompts !== undefined) parts.prompts = answer.prompts as SkillParts['prompts']
    return parts
  }

  async call(agent: string, tool: string, args: Record<string, unknown>, signal: AbortSignal): Promise<unknown> {
    if (signal.aborted) throw signal.reason
    let id = 0
    const onAbort = () => void this.#host.request({ type: 'abort', call: id })
    signal.addEventListener('abort', onAbort, { once: true })
    try {
      return await this.#host.request({ type: 'call', skill: this.#name, agent, tool, args }, (assigned) => (id = assigned))
    } finally {
      signal.removeEventListener('abort', onAbort)
    }
  }

  close(): Promise<unknown> {
    return this.#host.request({ type: 'close', skill: this.#name })
  }

  #tool(agent: string, spec: IsolatedToolSpec): SkillTool {
    const tool: Record<string, unknown> = { name: spec.name, description: spec.description, parameters: spec.parameters }
    if (spec.scope !== undefined) tool.scope = spec.scope
    if (spec.timeoutMs !== undefined) tool.timeoutMs = spec.timeoutMs
    if (spec.runs === 'run' || spec.runs === 'worker' || spec.runs === 'both') {
      tool.run = (args: Record<string, unknown>, ctx: { signal: AbortSignal }) => this.call(agent, spec.name, args, ctx.signal)
    }
    if (spec.runs === 'both') tool.worker = 'both'
    return tool as unknown as SkillTool
  }
}
