// @robutler/skill-mcp with fixture MCP servers on the real SDK (test/fixtures/mcp): a stdio child process, a
// Streamable HTTP server and an old SSE-only one, called by the echo model's `/tool NAME {json}` lines through the
// kernel's loop: results, list_changed, a killed server that comes back, timeouts and cancellation, scopes,
// secrets kept out of logs, and no child left after close.
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startMcpHttpServer } from './fixtures/mcp/http-server.mjs'
import { startAgentsServer, type AgentsServer } from './helpers/agents-app.js'
import { STDIO_FIXTURE, callThroughAgent, eventually, isAlive, toolErrorCode } from './helpers/mcp.js'
import { getJson, startServer, type TestServer } from './helpers/test-server.js'

const SECRET = 'sekrit-fixture-value-4242'
const WEB_TOKEN = 'web-token-abcdef123456'
const owner = { authorization: 'Bearer key-ann' }

describe('skill-mcp: MCP servers as agent tools', () => {
  let t: TestServer
  let http: Awaited<ReturnType<typeof startMcpHttpServer>>
  const call = (tool: string, args: unknown = {}, headers: Record<string, string> = {}) => callThroughAgent(t.url, 'tools', tool, args, headers)
  const toolNames = async (headers: Record<string, string> = {}) => ((await getJson(`${t.url}/tools`, headers)).json.tools as Array<{ name: string }>).map((tool) => tool.name)

  beforeAll(async () => {
    http = await startMcpHttpServer()
    t = await startServer(['local', 'keys', 'skillMcp', 'basics'], {
      env: { PATH: process.env.PATH!, HOME: '/tmp', OPENAI_API_KEY: 'sk-must-not-reach-children' },
      toolTimeout: 30,
      plugins: { '@robutler/plugin-local': {}, 'robutler-plugin-keys': { keys: { 'key-ann': { userId: 'ann', scope: 'all' } } } },
      agents: [
        {
          name: 'tools',
          model: 'local/echo',
          owner: 'ann',
          skills: {
            '@robutler/skill-mcp': {
              servers: {
                fx: { command: process.execPath, args: [STDIO_FIXTURE], env: { FIXTURE_SECRET: SECRET }, timeoutMs: 800 },
                web: { url: `${http.url}/mcp`, headers: { authorization: `Bearer ${WEB_TOKEN}` }, tools: ['echo', 'whoami'] },
                old: { url: `${http.url}/sse`, tools: ['whoami'] },
              },
              scopes: { fx__whoami: 'owner', fx__spawn_child: 'owner' },
              exclude: ['fx__internal*'],
            },
          },
        },
        {
          // Bare names next to skill-basics: an MCP tool named like one of basics' tools is left out, basics' stays.
          name: 'bare',
          model: 'local/echo',
          skills: {
            '@robutler/skill-basics': {},
            '@robutler/skill-mcp': { servers: { fx: { command: process.execPath, args: [STDIO_FIXTURE], prefix: '', tools: ['add', 'add_tool', 'calculate'] } } },
          },
        },
      ],
    })
  })
  afterAll(async () => {
    await t?.close()
    await http?.close()
  })

  it('offers the stdio server tools as fx__tool, with its schema, description and hints; a call returns its result', async () => {
    const info = (await getJson(`${t.url}/tools`)).json
    const add = info.tools.find((tool: any) => tool.name === 'fx__add')
    expect(add).toMatchObject({ description: 'Adds two numbers (read-only)', skill: '@robutler/skill-mcp' })
    expect(await call('fx__add', { a: 2, b: 3 })).toBe('5')
    // The kernel checks arguments against the server's own JSON Schema before the call goes out.
    expect(toolErrorCode(await call('fx__add', { a: 'two', b: 3 }))).toBe('RBT_ERR_TOOL_ARGUMENTS_INVALID')
    // A draft-2020-12 schema ($schema) compiles; a name the kernel would refuse is made safe.
    expect(await call('fx__echo', { text: 'hi' })).toBe('hi')
    expect(await call('fx__say_hello')).toBe('hello')
  })

  it('reaches a Streamable HTTP server with its headers, and an SSE-only server through the fallback', async () => {
    expect(await call('web__echo', { text: 'over http' })).toBe('over http')
    const web = JSON.parse(await call('web__whoami'))
    expect(web).toMatchObject({ transport: 'streamable-http', authorization: `Bearer ${WEB_TOKEN}` })
    expect(JSON.parse(await call('old__whoami'))).toMatchObject({ transport: 'sse' })
    // `tools` per server picks which are offered.
    const names = await toolNames()
    expect(names).toContain('web__echo')
    expect(names).not.toContain('web__add')
    expect(names.filter((name) => name.startsWith('old__'))).toEqual(['old__whoami'])
  })

  it('a remote server that forgot its session is connected again; its tools come back', async () => {
    http.forgetSessions()
    // The call that finds the session gone fails as a tool error; the connection is made again behind it.
    expect(toolErrorCode(await call('web__echo', { text: 'lost' }))).toBe('RBT_ERR_TOOL_FAILED')
    await eventually(async () => (await toolNames()).includes('web__echo'), 10_000, 'web tools to return')
    expect(await call('web__echo', { text: 'found' })).toBe('found')
  })

  it('text, media and structured results reach the model as the tool result; isError is a tool error', async () => {
    expect((await call('fx__media')).split('\n')).toEqual(['a red dot', '[image image/png, 2.9 KB]', '[resource file:///tmp/dot.png (dot.png), image/png]'])
    expect(JSON.parse(await call('fx__structured'))).toEqual({ sum: 42 })
    const failed = JSON.parse(await call('fx__fail'))
    expect(failed.error.code).toBe('RBT_ERR_TOOL_FAILED')
    expect(failed.error.message).toContain('it failed with [redacted]')
  })

  it('a list_changed notification adds a tool without a restart', async () => {
    expect(await toolNames()).not.toContain('fx__fresh')
    expect(await call('fx__add_tool', { name: 'fresh' })).toBe('fresh')
    await eventually(async () => (await toolNames()).includes('fx__fresh'), 5_000, 'fx__fresh to be offered')
    expect(await call('fx__fresh')).toBe('fresh is here')
  })

  it('a hung call times out, the server is sent notifications/cancelled, and it stays usable', async () => {
    const started = Date.now()
    expect(toolErrorCode(await call('fx__hang'))).toBe('RBT_ERR_TOOL_TIMEOUT')
    expect(Date.now() - started).toBeLessThan(5_000)
    const reasons = await eventually(async () => {
      const list = JSON.parse(await call('fx__cancellations'))
      return list.length === 1 ? list : null
    }, 5_000, 'the cancellation to reach the server')
    expect(reasons[0]).toMatch(/timeout/i)
    expect(await call('fx__add', { a: 1, b: 1 })).toBe('2')
    // An exclude pattern of the config keeps a tool away from the model.
    expect(await toolNames()).not.toContain('fx__internal_only')
  })

  it('a client that disconnects cancels the running MCP call', async () => {
    const controller = new AbortController()
    const request = fetch(`${t.url}/tools/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ messages: [{ role: 'user', content: '/tool fx__hang {}' }], stream: true }),
      signal: controller.signal,
    })
    // No byte comes before the tool has answered (its call is the agent's own): leave while it hangs.
    await new Promise((resolve) => setTimeout(resolve, 250))
    controller.abort()
    await expect(request).rejects.toThrow()
    const reasons = await eventually(async () => {
      const list = JSON.parse(await call('fx__cancellations'))
      return list.length === 2 ? list : null
    }, 5_000, 'the second cancellation to reach the server')
    expect(reasons[1]).toMatch(/client closed the connection/)
    expect(await call('fx__add', { a: 2, b: 2 })).toBe('4')
  })

  it('a scope-restricted MCP tool is neither offered nor run for an `all` caller; its owner uses it', async () => {
    expect(await toolNames()).not.toContain('fx__whoami')
    expect(toolErrorCode(await call('fx__whoami'))).toBe('RBT_ERR_TOOL_FORBIDDEN')
    expect(await toolNames(owner)).toContain('fx__whoami')
    const me = JSON.parse(await call('fx__whoami', {}, owner))
    expect(me.transport).toBe('stdio')
    // The child gets the config's env and the usual few variables of the server's, never its API keys.
    expect(me.envKeys).toContain('FIXTURE_SECRET')
    expect(me.envKeys).not.toContain('OPENAI_API_KEY')
    expect(me.envKeys.every((key: string) => ['FIXTURE_SECRET', 'HOME', 'PATH', 'LOGNAME', 'SHELL', 'TERM', 'USER'].includes(key))).toBe(true)
  })

  it('a killed stdio server: its tools leave, /ready names it, it comes back and so do they', async () => {
    const { pid } = JSON.parse(await call('fx__whoami', {}, owner))
    const grandchild = JSON.parse(await call('fx__spawn_child', {}, owner)).pid
    expect(isAlive(grandchild)).toBe(true)
    process.kill(pid, 'SIGKILL')
    await eventually(async () => !(await toolNames()).includes('fx__add'), 5_000, 'fx tools to leave')
    // While it is down the model is not offered its tools, and a call of one is a tool that does not exist.
    expect(toolErrorCode(await call('fx__add', { a: 1, b: 2 }))).toBe('RBT_ERR_TOOL_NOT_FOUND')
    // /ready names it while it is down (a first restart comes after 0.5 s: poll, do not sleep).
    const ready = await eventually(async () => {
      const answer = await getJson(`${t.url}/ready`)
      return answer.status === 503 && answer.json.failing.includes('mcp tools/fx') ? answer : null
    }, 5_000, '/ready to name the dead server')
    expect(ready.json.checks['mcp tools/fx'].error).toMatch(/^MCP server 'tools\/fx' is (down \(the process ended \(signal SIGKILL\)\); restarting in \d+ s|starting for \d+ s)$/)
    // What the server started died with it.
    await eventually(() => !isAlive(grandchild), 5_000, 'the grandchild to die with its server')
    await eventually(async () => (await toolNames()).includes('fx__add'), 10_000, 'fx tools to return')
    expect(await call('fx__add', { a: 1, b: 2 })).toBe('3')
    expect(JSON.parse(await call('fx__whoami', {}, owner)).pid).not.toBe(pid)
    await eventually(async () => (await getJson(`${t.url}/ready`)).status === 200, 5_000, '/ready to pass again')
  })

  it('never writes a secret of the config to the log (env, headers, stderr, errors)', () => {
    const log = t.logs.join('\n')
    expect(log).toContain('MCP server stderr')
    expect(log).not.toContain(SECRET)
    expect(log).not.toContain(WEB_TOKEN)
  })

  it('with bare names, an MCP tool named like another skill tool is left out; the other stays', async () => {
    const bare = (tool: string, args: unknown = {}) => callThroughAgent(t.url, 'bare', tool, args)
    expect(await bare('add', { a: 40, b: 2 })).toBe('42')
    expect(await bare('add_tool', { name: 'calculate' })).toBe('calculate')
    await eventually(() => t.logs.some((line) => line.includes('a tool of the skill is left out') && line.includes('calculate')), 5_000, 'the warning')
    // skill-basics' calculate still answers.
    expect(await bare('calculate', { expression: '6*7' })).toContain('42')
  })

  it('stops every child process when the server closes', async () => {
    const { pid } = JSON.parse(await call('fx__whoami', {}, owner))
    await t.close()
    await eventually(() => !isAlive(pid), 5_000, 'the stdio server to stop')
    t = undefined as any
  })
})

describe('skill-mcp on a dynamic agent (plugin-agents-file)', () => {
  let t: AgentsServer
  const fileOf = (args: string[]) => ({
    model: 'local/echo',
    description: `built at ${Date.now()}`,
    skills: { '@robutler/skill-mcp': { servers: { fx: { command: process.execPath, args } } } },
  })
  const write = (config: unknown) => writeFile(join(t.dir, 'agents', 'loaded.json'), JSON.stringify(config))
  const pidOf = async () => JSON.parse(await callThroughAgent(t.url, 'loaded', 'fx__whoami')).pid as number

  beforeAll(async () => {
    t = await startAgentsServer(
      ['agentsFile', 'skillMcp'],
      { env: { PATH: process.env.PATH! }, plugins: { '@robutler/plugin-local': {}, '@robutler/plugin-agents-file': {} }, skills: { '@robutler/skill-mcp': {} } },
      async (dir) => {
        await mkdir(join(dir, 'agents'))
        await writeFile(join(dir, 'agents', 'loaded.json'), JSON.stringify(fileOf([STDIO_FIXTURE])))
      },
    )
  })
  afterAll(() => t?.close())

  it('keeps the running server across rebuilds of the agent while its config is the same; a new config replaces it', async () => {
    const first = await pidOf()
    // Another description: the agent is built again (setup runs again); the server is the same process.
    await write({ ...fileOf([STDIO_FIXTURE]), description: 'edited' })
    await eventually(async () => (await getJson(`${t.url}/loaded`)).json.description === 'edited', 5_000, 'the edited agent to be served')
    expect(await pidOf()).toBe(first)
    // Another command line for the server: a new process, and the old one stopped.
    await write(fileOf([STDIO_FIXTURE, '--second']))
    const second = await eventually(async () => {
      const pid = await pidOf()
      return pid !== first ? pid : null
    }, 10_000, 'a new server process')
    expect(isAlive(second)).toBe(true)
    await eventually(() => !isAlive(first), 5_000, 'the old server process to stop')
    await t.close()
    await eventually(() => !isAlive(second), 5_000, 'the server process to stop with the server')
    t = undefined as any
  })
})
