// MCP under the real `robutler start`: skill-mcp's stdio servers (and what they start) are gone after SIGTERM, in
// one process and under --workers 2, where two SDK clients use plugin-mcp's stateless endpoint at once.
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js'
import { afterEach, describe, expect, it } from 'vitest'
import { cleanEnv, killIfAlive, startServer, type RunningServer } from './helpers/cli-process.js'
import { STDIO_FIXTURE, callThroughAgent, descendants, eventually, isAlive } from './helpers/mcp.js'
import { linkedApp } from './helpers/test-server.js'

const CONFIG = {
  server: { workerThreads: 1, drainTimeout: 10, urlPrefix: '/api/v1' },
  plugins: { '@robutler/plugin-local': {}, '@robutler/plugin-mcp': { agents: { echo: { exposeTools: true } } } },
  agents: [
    {
      name: 'echo',
      description: 'Answers with your last message',
      model: 'local/echo',
      skills: { '@robutler/skill-mcp': { servers: { fx: { command: process.execPath, args: [STDIO_FIXTURE], tools: ['whoami', 'spawn_child', 'add'] } } } },
    },
  ],
}

const textOf = (result: unknown) => ((result as CallToolResult).content[0] as { text: string }).text

describe('MCP under robutler start', () => {
  let app: Awaited<ReturnType<typeof linkedApp>> | undefined
  let server: RunningServer | undefined

  async function start(args: string[]): Promise<RunningServer> {
    app = await linkedApp(['local', 'skillMcp', 'pluginMcp'])
    const file = join(app.dir, 'robutler.config.json')
    await writeFile(file, JSON.stringify(CONFIG))
    server = await startServer(['--config', file, '--port', '0', ...args], { env: cleanEnv() })
    return server
  }

  /** SIGTERM, a clean exit, and none of the processes the server had started still running. */
  async function stopLeavingNothing(running: RunningServer, expected: number[]): Promise<void> {
    const started = descendants(running.child.pid!)
    for (const pid of expected) expect(started.has(pid), `pid ${pid} is a descendant of the server`).toBe(true)
    running.child.kill('SIGTERM')
    expect((await running.exited).code).toBe(0)
    // What SIGTERM left would still be running now; a moment for the kernel to take the killed ones off its list.
    await eventually(() => [...started.keys()].every((pid) => !isAlive(pid)), 3_000, 'every descendant of the server to be gone').catch((error) => {
      const left = [...started].filter(([pid]) => isAlive(pid)).map(([pid, command]) => `${pid} ${command}`)
      throw new Error(`${error.message}; still running: ${left.join('; ')}`)
    })
  }

  afterEach(async () => {
    killIfAlive(server?.child)
    await app?.cleanup()
    server = undefined
    app = undefined
  })

  it('one process: the stdio server and what it started are gone after SIGTERM', async () => {
    const running = await start([])
    const url = `${running.address}/api/v1`
    const { pid } = JSON.parse(await callThroughAgent(url, 'echo', 'fx__whoami'))
    const grandchild = JSON.parse(await callThroughAgent(url, 'echo', 'fx__spawn_child')).pid
    expect(isAlive(pid) && isAlive(grandchild)).toBe(true)
    await stopLeavingNothing(running, [pid, grandchild])
  })

  it('--workers 2: two MCP clients at once, no session errors; SIGTERM leaves no child of any worker', async () => {
    const running = await start(['--workers', '2'])
    await eventually(() => running.logLines().filter((line) => /listening on/.test(line.msg ?? '')).length >= 2, 15_000, 'both workers to listen')
    const url = `${running.address}/api/v1`
    const fxPids = new Set<number>()
    const grandchildren: number[] = []
    const session = async (who: string) => {
      for (let round = 0; round < 4; round++) {
        // A fresh client each round: a new connection, which the cluster may hand to either worker.
        const client = new Client({ name: `robutler-test-${who}`, version: '1.0.0' })
        await client.connect(new StreamableHTTPClientTransport(new URL(`${url}/echo/mcp`)))
        try {
          const names = (await client.listTools()).tools.map((tool) => tool.name)
          expect(names).toEqual(expect.arrayContaining(['ask_echo', 'fx__whoami']))
          expect(textOf(await client.callTool({ name: 'ask_echo', arguments: { message: `${who} round ${round}` } }))).toBe(`${who} round ${round}`)
          fxPids.add(JSON.parse(textOf(await client.callTool({ name: 'fx__whoami', arguments: {} }))).pid)
          if (round === 0) grandchildren.push(JSON.parse(textOf(await client.callTool({ name: 'fx__spawn_child', arguments: {} }))).pid)
        } finally {
          await client.close()
        }
      }
    }
    await Promise.all([session('ann'), session('bob')])
    expect(running.logLines().some((line) => /session/i.test(line.msg ?? '') && line.level >= 40)).toBe(false)
    await stopLeavingNothing(running, [...fxPids, ...grandchildren])
  })
})
