// One MCP server of one agent, for the server's lifetime: connects (a child process, or Streamable HTTP with the
// SSE fallback), keeps its tool list (refreshed on notifications/tools/list_changed), restarts it with backoff when
// it dies, says what is wrong while it is down, and stops it when asked.
import type { Logger } from 'pino'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js'
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { McpError, ToolListChangedNotificationSchema, type CallToolResult, type Tool } from '@modelcontextprotocol/sdk/types.js'
import { ChildProcessTransport } from './child-transport.js'
import type { Endpoint } from './config.js'
import type { Redact } from './redact.js'

export type ConnectionState = 'starting' | 'up' | 'down' | 'stopped'

/** The first restart waits this long, each next one twice as long, up to MAX_DELAY_MS. */
const FIRST_DELAY_MS = 500
const MAX_DELAY_MS = 30_000
/** A server that stayed up this long starts its backoff over when it dies. */
const STABLE_MS = 30_000
/** How long one connection attempt (spawn or request, then initialize) may take. */
const CONNECT_TIMEOUT_MS = 60_000
/** The SDK's own per-request timer, out of the way: the kernel's tool timeout and signal decide. */
const NO_SDK_TIMEOUT_MS = 2_147_483_647
/** stderr lines kept to tell why a child died. */
const STDERR_KEPT = 5

export interface ConnectionOptions {
  agent: string
  server: string
  endpoint: Endpoint
  redact: Redact
  log: Logger
  clientInfo: { name: string; version: string }
}

/** One connection attempt: its client once made, so that whichever of close and failure comes first wins. */
interface Attempt {
  client: Client | null
  transport: ChildProcessTransport | null
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

/** True when a Streamable HTTP attempt was refused in a way an old SSE-only server answers (404, 405, …). */
function refusedByOldServer(error: unknown): boolean {
  return error instanceof StreamableHTTPError && error.code !== undefined && error.code >= 400 && error.code < 500
}

export class McpConnection {
  readonly endpoint: Endpoint
  state: ConnectionState = 'starting'
  /** The server's tools while it is up; none while it is down. */
  tools: Tool[] = []
  readonly #options: ConnectionOptions
  readonly #log: Logger
  #attempt: Attempt | null = null
  #client: Client | null = null
  #failures = 0
  #upSince = 0
  #since = Date.now()
  #problem: string | null = null
  #retryAt = 0
  #timer: NodeJS.Timeout | null = null
  #subscriber: (() => void) | null = null
  #refreshing: Promise<void> | null = null
  #refreshAgain = false
  readonly #stderr: string[] = []
  /** Settles when the first attempt has (connected or failed). */
  readonly firstAttempt: Promise<void>

  constructor(options: ConnectionOptions) {
    this.#options = options
    this.endpoint = options.endpoint
    this.#log = options.log
    this.firstAttempt = this.#connect()
  }

  /** `changed` is called whenever `tools` changes (one subscriber: the agent's latest build). */
  onChange(changed: () => void): void {
    this.#subscriber = changed
  }

  /** Waits for the first attempt, at most `ms`. */
  async settled(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined
    await Promise.race([this.firstAttempt, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))])
    clearTimeout(timer)
  }

  /** Null while the server is up; else what is wrong, for `/ready`. */
  problem(): string | null {
    switch (this.state) {
      case 'up':
      case 'stopped':
        return null
      case 'starting':
        return `starting for ${Math.round((Date.now() - this.#since) / 1000)} s`
      case 'down':
        return `down (${this.#problem}); restarting in ${Math.max(0, Math.ceil((this.#retryAt - Date.now()) / 1000))} s`
    }
  }

  /**
   * Calls one of the server's tools by its own name. A result with isError is returned as it is. `propagation` (the
   * request's `traceparent`) goes in the call's `_meta`, where OpenTelemetry's MCP conventions carry trace context.
   */
  async call(tool: string, args: Record<string, unknown>, signal: AbortSignal, timeoutMs: number | undefined, propagation?: Record<string, string>): Promise<CallToolResult> {
    const client = this.#client
    if (client === null || this.state !== 'up') throw new Error(`the MCP server '${this.#options.server}' is ${this.problem() ?? this.state}`)
    try {
      const params = propagation === undefined ? { name: tool, arguments: args } : { name: tool, arguments: args, _meta: propagation }
      return (await client.callTool(params, undefined, { signal, timeout: timeoutMs ?? NO_SDK_TIMEOUT_MS })) as CallToolResult
    } catch (error) {
      // A JSON-RPC error is the server's answer; anything else (a fetch that failed, a session the server forgot)
      // means the connection is gone.
      if (!(error instanceof McpError) && !signal.aborted) this.#down(this.#attempt, messageOf(error))
      throw error
    }
  }

  /** Stops the server for good (its child process and everything that started) and forgets its tools. */
  async stop(): Promise<void> {
    this.state = 'stopped'
    if (this.#timer) clearTimeout(this.#timer)
    this.#timer = null
    const attempt = this.#attempt
    this.#attempt = null
    this.#client = null
    this.tools = []
    if (attempt?.client) await attempt.client.close().catch(() => undefined)
    else await attempt?.transport?.close()
  }

  /** The last resort when this process exits: the child's process group is killed at once. */
  killNow(): void {
    this.#attempt?.transport?.killNow()
  }

  #describe(): Record<string, string> {
    return { agent: this.#options.agent, server: this.#options.server }
  }

  async #connect(): Promise<void> {
    if (this.state === 'stopped') return
    const attempt: Attempt = { client: null, transport: null }
    this.#attempt = attempt
    this.state = 'starting'
    this.#since = Date.now()
    try {
      const client = await this.#open(attempt)
      if (this.#attempt !== attempt) {
        await client.close().catch(() => undefined)
        return
      }
      client.setNotificationHandler(ToolListChangedNotificationSchema, () => this.#refresh(client))
      client.onclose = () => this.#down(attempt, attempt.transport?.exit ? `the process ended (${attempt.transport.exit})` : 'the connection closed')
      this.#client = client
      await this.#refresh(client)
      if (this.#attempt !== attempt) return
      this.state = 'up'
      this.#upSince = Date.now()
      this.#problem = null
      this.#log.info({ ...this.#describe(), tools: this.tools.length }, 'MCP server connected')
      this.#changed()
    } catch (error) {
      this.#down(attempt, messageOf(error))
    }
  }

  /** Makes the attempt's client and connects it (initialize), by the endpoint's transport. */
  async #open(attempt: Attempt): Promise<Client> {
    const endpoint = this.endpoint
    const options = { timeout: CONNECT_TIMEOUT_MS }
    const newClient = () => {
      const client = new Client(this.#options.clientInfo, { capabilities: {} })
      client.onerror = (error) => this.#log.debug({ ...this.#describe(), problem: this.#options.redact(messageOf(error)) }, 'MCP connection error')
      return (attempt.client = client)
    }
    if (endpoint.kind === 'stdio') {
      attempt.transport = new ChildProcessTransport(endpoint, (line) => this.#stderrLine(line))
      const client = newClient()
      await client.connect(attempt.transport, options)
      return client
    }
    const url = new URL(endpoint.url)
    const requestInit = { headers: endpoint.headers }
    if (endpoint.transport !== 'sse') {
      const client = newClient()
      try {
        await client.connect(new StreamableHTTPClientTransport(url, { requestInit }), options)
        return client
      } catch (error) {
        await client.close().catch(() => undefined)
        if (endpoint.transport === 'streamable-http' || !refusedByOldServer(error)) throw error
        this.#log.info({ ...this.#describe() }, 'MCP server refused Streamable HTTP; trying SSE')
      }
    }
    const client = newClient()
    await client.connect(new SSEClientTransport(url, { requestInit }), options)
    return client
  }

  /** Reads the whole tool list (every page); one refresh at a time, another after it when asked meanwhile. */
  #refresh(client: Client): Promise<void> {
    if (this.#refreshing) {
      this.#refreshAgain = true
      return this.#refreshing
    }
    this.#refreshing = (async () => {
      do {
        this.#refreshAgain = false
        const tools: Tool[] = []
        let cursor: string | undefined
        do {
          const page = await client.listTools(cursor === undefined ? undefined : { cursor })
          tools.push(...page.tools)
          cursor = page.nextCursor
        } while (cursor)
        if (this.#client !== client) return
        this.tools = tools
        if (this.state === 'up') this.#changed()
      } while (this.#refreshAgain)
    })().finally(() => (this.#refreshing = null))
    // A list that cannot be read while the server is up leaves the last one in place.
    this.#refreshing.catch((error) => this.#log.warn({ ...this.#describe(), problem: this.#options.redact(messageOf(error)) }, 'MCP tools/list failed'))
    return this.#refreshing
  }

  #down(attempt: Attempt | null, why: string): void {
    if (attempt === null || attempt !== this.#attempt || this.state === 'stopped') return
    this.#attempt = null
    this.#client = null
    const hadTools = this.tools.length > 0
    this.tools = []
    if (this.state === 'up' && Date.now() - this.#upSince >= STABLE_MS) this.#failures = 0
    const delay = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** this.#failures)
    this.#failures++
    this.state = 'down'
    this.#problem = this.#options.redact(why)
    this.#retryAt = Date.now() + delay
    const stderr = this.#stderr.splice(0).map(this.#options.redact)
    this.#log.warn({ ...this.#describe(), problem: this.#problem, retryInMs: delay, stderr: stderr.length ? stderr : undefined }, 'MCP server is down; restarting it')
    if (hadTools) this.#changed()
    void (attempt.client ? attempt.client.close() : attempt.transport?.close())?.catch(() => undefined)
    this.#timer = setTimeout(() => {
      this.#timer = null
      void this.#connect()
    }, delay)
    this.#timer.unref()
  }

  #stderrLine(line: string): void {
    const text = this.#options.redact(line).slice(0, 2000)
    this.#stderr.push(text)
    if (this.#stderr.length > STDERR_KEPT) this.#stderr.shift()
    this.#log.debug({ ...this.#describe(), stderr: text }, 'MCP server stderr')
  }

  #changed(): void {
    try {
      this.#subscriber?.()
    } catch (error) {
      this.#log.error({ ...this.#describe(), err: error }, 'taking the MCP server tools failed')
    }
  }
}
