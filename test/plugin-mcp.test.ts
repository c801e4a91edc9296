// @robutler/plugin-mcp with the real SDK's Client over StreamableHTTPClientTransport: each agent an MCP server at
// /{agent}/mcp (initialize, tools/list, tools/call of the ask tool, progress), its own tools for the caller's scope
// run as the caller, the kernel's admission in front (keys, 401, origins, rate limits, the request log), and one
// endpoint at /mcp for every agent a key may use.
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { record } from './fixtures/skills/probe/index.js'
import { getJson, postJson, startServer, type TestServer } from './helpers/test-server.js'

const KEYS = { 'key-ann': { userId: 'ann', scope: 'all' }, 'key-bob': { userId: 'bob', scope: 'all' } }
const bearer = (key: string) => ({ authorization: `Bearer ${key}` })
const INITIALIZE = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'curl', version: '1' } } }
const MCP_HEADERS = { accept: 'application/json, text/event-stream' }

describe('plugin-mcp: every agent an MCP server', () => {
  let t: TestServer
  const clients: Client[] = []

  /** A connected SDK client (initialize done) for `path` under the prefix, with the key's Bearer header. */
  async function connect(path: string, key?: string): Promise<Client> {
    const client = new Client({ name: 'robutler-test', version: '1.0.0' })
    const transport = new StreamableHTTPClientTransport(new URL(`${t.url}${path}`), { requestInit: { headers: key ? bearer(key) : {} } })
    await client.connect(transport)
    clients.push(client)
    return client
  }
  const textOf = (result: unknown) => ((result as CallToolResult).content[0] as { text: string }).text
  const names = async (client: Client) => (await client.listTools()).tools.map((tool) => tool.name).sort()

  beforeAll(async () => {
    t = await startServer(['local', 'keys', 'pluginMcp', 'caller', 'probe'], {
      urlPrefix: '/api/v1',
      plugins: {
        '@robutler/plugin-local': {},
        'robutler-plugin-keys': { keys: KEYS },
        '@robutler/plugin-mcp': { agents: { echo: { exposeTools: true }, probed: { exposeTools: true } } },
      },
      agents: [
        { name: 'probed', model: 'local/echo', skills: { 'robutler-skill-probe': {} } },
        { name: 'echo', description: 'Answers with your last message', model: 'local/echo', owner: 'ann', skills: { 'robutler-skill-caller': {} } },
        { name: 'quiet', model: 'local/echo', skills: { 'robutler-skill-caller': {} } },
        { name: 'seer', model: 'local/inspect' },
        { name: 'private', model: 'local/echo', scopes: ['owner'], owner: 'ann' },
        { name: 'broken', model: 'local/no-such-model' },
      ],
    })
  })
  afterEach(async () => {
    for (const client of clients.splice(0)) await client.close()
  })
  afterAll(() => t?.close())

  it('initialize, tools/list and tools/call of the agent tool: the answer is the agent reply', async () => {
    const client = await connect('/echo/mcp', 'key-bob')
    expect(client.getServerVersion()).toMatchObject({ name: 'echo' })
    expect(client.getServerCapabilities()?.tools).toBeDefined()
    const { tools } = await client.listTools()
    const askTool = tools.find((tool) => tool.name === 'ask_echo')!
    expect(askTool.description).toBe('Answers with your last message')
    expect(askTool.inputSchema.required).toEqual(['message'])
    expect(textOf(await client.callTool({ name: 'ask_echo', arguments: { message: 'hello over mcp' } }))).toBe('hello over mcp')
  })

  it('earlier turns go to the agent before the message', async () => {
    const client = await connect('/seer/mcp')
    const result = await client.callTool({
      name: 'ask_seer',
      arguments: { message: 'third', history: [{ role: 'user', content: 'first' }, { role: 'assistant', content: 'second' }] },
    })
    const seen = JSON.parse(textOf(result))
    expect(seen.messages.map((m: any) => [m.role, m.content])).toEqual([['user', 'first'], ['assistant', 'second'], ['user', 'third']])
    await expect(client.callTool({ name: 'ask_seer', arguments: { history: [] } })).rejects.toThrow(/'message' is required/)
  })

  it('sends progress notifications while the agent works, when the client asks for them', async () => {
    const client = await connect('/echo/mcp', 'key-bob')
    const progress: string[] = []
    const result = await client.callTool({ name: 'ask_echo', arguments: { message: '/tool whoami {}' } }, undefined, {
      onprogress: (p) => progress.push(String(p.message)),
    })
    expect(JSON.parse(textOf(result))).toEqual({ user: 'bob', scope: 'all', agent: 'echo' })
    expect(progress).toEqual(['echo calls whoami', 'whoami answered', 'echo is answering (local/echo)'])
  })

  it("exposes the agent's own tools for the caller's scope, run as the caller; a tool above it is neither listed nor callable", async () => {
    const bob = await connect('/echo/mcp', 'key-bob')
    expect(await names(bob)).toEqual(['ask_echo', 'whoami'])
    expect(JSON.parse(textOf(await bob.callTool({ name: 'whoami', arguments: {} })))).toEqual({ user: 'bob', scope: 'all', agent: 'echo' })
    await expect(bob.callTool({ name: 'owner_only', arguments: {} })).rejects.toThrow(/Unknown tool: owner_only/)
    const ann = await connect('/echo/mcp', 'key-ann')
    expect(await names(ann)).toEqual(['ask_echo', 'owner_only', 'whoami'])
    expect(JSON.parse(textOf(await ann.callTool({ name: 'owner_only', arguments: {} })))).toEqual({ secret: 'owner only', user: 'ann', scope: 'owner', agent: 'echo' })
    // Arguments are checked by the kernel against the tool's schema, as when the model calls it.
    const invalid = await ann.callTool({ name: 'whoami', arguments: { extra: 1 } })
    expect(invalid.isError).toBe(true)
    expect(textOf(invalid)).toContain('RBT_ERR_TOOL_ARGUMENTS_INVALID')
  })

  it("an exposed tool runs on the loop's path: connection hooks around it, tool hooks, argument checks", async () => {
    const client = await connect('/probed/mcp')
    record.length = 0
    const result = await client.callTool({ name: 'add', arguments: { a: 2, b: 5 } })
    // The probe's tool reads getContext(): callTool runs inside the request's AsyncLocalStorage too.
    expect(JSON.parse(textOf(result))).toMatchObject({ sum: 7, requestId: expect.any(String) })
    expect(record).toEqual(['onConnection:10', 'beforeToolCall:add', 'add:2+5', 'afterToolCall:add:ok', 'finalizeConnection:200'])
    const failed = await client.callTool({ name: 'boom', arguments: {} })
    expect([failed.isError, textOf(failed)]).toEqual([true, expect.stringContaining('RBT_ERR_TOOL_FAILED')])
  })

  it('offers only the ask tool of an agent that does not expose its tools', async () => {
    const client = await connect('/quiet/mcp', 'key-ann')
    expect(await names(client)).toEqual(['ask_quiet'])
    await expect(client.callTool({ name: 'whoami', arguments: {} })).rejects.toThrow(/Unknown tool: whoami/)
  })

  it('a failing agent is a tool result with isError and its code, whole or streamed', async () => {
    const client = await connect('/broken/mcp')
    const whole = await client.callTool({ name: 'ask_broken', arguments: { message: 'hi' } })
    expect(whole.isError).toBe(true)
    expect(textOf(whole)).toMatch(/^RBT_ERR_PROVIDER_FAILED: /)
    const streamed = await client.callTool({ name: 'ask_broken', arguments: { message: 'hi' } }, undefined, { onprogress: () => {} })
    expect(streamed.isError).toBe(true)
    expect(textOf(streamed)).toMatch(/^RBT_ERR_PROVIDER_FAILED: /)
  })

  it('the kernel admission is in front: a wrong key is 401, an agent out of reach 401/403, with the usual codes', async () => {
    await expect(connect('/echo/mcp', 'invalid-key')).rejects.toMatchObject({ code: 401, message: expect.stringContaining('RBT_ERR_UNAUTHENTICATED') })
    const wrong = await postJson(`${t.url}/echo/mcp`, INITIALIZE, { ...MCP_HEADERS, ...bearer('not-a-key') })
    expect([wrong.status, wrong.json.error.code]).toEqual([401, 'RBT_ERR_UNAUTHENTICATED'])
    expect((await postJson(`${t.url}/private/mcp`, INITIALIZE, MCP_HEADERS)).status).toBe(401)
    expect((await postJson(`${t.url}/private/mcp`, INITIALIZE, { ...MCP_HEADERS, ...bearer('key-bob') })).status).toBe(403)
    expect((await postJson(`${t.url}/private/mcp`, INITIALIZE, { ...MCP_HEADERS, ...bearer('key-ann') })).status).toBe(200)
    expect((await postJson(`${t.url}/nobody/mcp`, INITIALIZE, MCP_HEADERS)).json.error.code).toBe('RBT_ERR_AGENT_NOT_FOUND')
  })

  it('is stateless: no session id, GET and DELETE are 405, every request stands alone', async () => {
    const init = await postJson(`${t.url}/echo/mcp`, INITIALIZE, MCP_HEADERS)
    expect(init.status).toBe(200)
    expect(init.headers.get('mcp-session-id')).toBeNull()
    expect(init.json.result.serverInfo.name).toBe('echo')
    // tools/list without initialize first: any process of a cluster can answer it.
    const list = await postJson(`${t.url}/echo/mcp`, { jsonrpc: '2.0', id: 2, method: 'tools/list' }, { ...MCP_HEADERS, 'mcp-protocol-version': '2025-11-25' })
    expect(list.json.result.tools.map((tool: any) => tool.name)).toContain('ask_echo')
    for (const method of ['GET', 'DELETE']) {
      const res = await getJson(`${t.url}/echo/mcp`, { accept: 'text/event-stream' }, method)
      expect([res.status, res.headers.get('allow'), res.json.error.code]).toEqual([405, 'POST', 'RBT_ERR_MCP_METHOD_NOT_ALLOWED'])
    }
  })

  it('refuses a browser page of an origin it was not told to allow', async () => {
    const res = await postJson(`${t.url}/echo/mcp`, INITIALIZE, { ...MCP_HEADERS, origin: 'http://evil.example' })
    expect([res.status, res.json.error.code]).toEqual([403, 'RBT_ERR_MCP_ORIGIN_FORBIDDEN'])
  })

  it('logs each request with its agent, as on the chat route', async () => {
    await postJson(`${t.url}/echo/mcp`, INITIALIZE, { ...MCP_HEADERS, 'x-request-id': 'mcp-log-1' })
    await new Promise((resolve) => setTimeout(resolve, 20))
    // The server's own id is reqId; the client's x-request-id is kept as clientRequestId.
    const line = t.logs.map((l) => JSON.parse(l)).find((l) => l.clientRequestId === 'mcp-log-1' && l.msg === 'request')
    expect(line).toMatchObject({ method: 'POST', status: 200, agent: 'echo' })
  })

  it('/mcp serves every agent the key may use, one ask tool each', async () => {
    const bob = await connect('/mcp', 'key-bob')
    expect(await names(bob)).toEqual(['ask_broken', 'ask_echo', 'ask_probed', 'ask_quiet', 'ask_seer'])
    expect(textOf(await bob.callTool({ name: 'ask_quiet', arguments: { message: 'via the one endpoint' } }))).toBe('via the one endpoint')
    await expect(bob.callTool({ name: 'ask_private', arguments: { message: 'x' } })).rejects.toThrow(/Unknown tool: ask_private/)
    const ann = await connect('/mcp', 'key-ann')
    expect(await names(ann)).toContain('ask_private')
    expect(textOf(await ann.callTool({ name: 'ask_private', arguments: { message: 'mine' } }))).toBe('mine')
    const anonymous = await postJson(`${t.url}/mcp`, INITIALIZE, { ...MCP_HEADERS, ...bearer('invalid-x') })
    expect(anonymous.status).toBe(401)
  })
})

describe('plugin-mcp under rate limits', () => {
  let t: TestServer
  beforeAll(async () => {
    t = await startServer(['local', 'pluginMcp', 'rateLimit'], {
      plugins: { '@robutler/plugin-local': {}, '@robutler/plugin-mcp': {}, '@robutler/plugin-rate-limit': { max: 2, timeWindow: '1 minute' } },
      agents: [{ name: 'echo', model: 'local/echo' }],
    })
  })
  afterAll(() => t?.close())

  it('counts MCP requests like any agent request', async () => {
    const statuses = []
    for (let i = 0; i < 3; i++) statuses.push((await postJson(`${t.url}/echo/mcp`, INITIALIZE, MCP_HEADERS)).status)
    expect(statuses).toEqual([200, 200, 429])
  })
})
