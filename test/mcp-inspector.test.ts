// The MCP Inspector's CLI mode (@modelcontextprotocol/inspector --cli, from test/clients, which `npm test`
// installs) lists and calls an agent's tools over plugin-mcp's Streamable HTTP endpoint, with a Bearer key.
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ROOT, startServer, type TestServer } from './helpers/test-server.js'

const INSPECTOR = join(ROOT, 'test/clients/node_modules/@modelcontextprotocol/inspector/cli/build/cli.js')

/** `mcp-inspector --cli URL --transport http …` with the key's header; answers its JSON output. */
async function inspector(url: string, key: string, args: string[]): Promise<any> {
  const { stdout } = await promisify(execFile)(process.execPath, [INSPECTOR, '--cli', url, '--transport', 'http', '--header', `Authorization: Bearer ${key}`, ...args], {
    timeout: 30_000,
  })
  return JSON.parse(stdout)
}

describe('MCP Inspector CLI against plugin-mcp', () => {
  let t: TestServer
  beforeAll(async () => {
    if (!existsSync(INSPECTOR)) throw new Error('The MCP Inspector is not installed: run `node test/clients/install.mjs` (npm test does)')
    t = await startServer(['local', 'keys', 'pluginMcp', 'caller'], {
      urlPrefix: '/api/v1',
      plugins: {
        '@robutler/plugin-local': {},
        'robutler-plugin-keys': { keys: { 'key-ann': { userId: 'ann', scope: 'all' } } },
        '@robutler/plugin-mcp': { agents: { echo: { exposeTools: true } } },
      },
      agents: [{ name: 'echo', description: 'Answers with your last message', model: 'local/echo', skills: { 'robutler-skill-caller': {} } }],
    })
  })
  afterAll(() => t?.close())

  it('lists the agent tools', async () => {
    const { tools } = await inspector(`${t.url}/echo/mcp`, 'key-ann', ['--method', 'tools/list'])
    expect(tools.map((tool: any) => tool.name).sort()).toEqual(['ask_echo', 'whoami'])
    expect(tools.find((tool: any) => tool.name === 'ask_echo').description).toBe('Answers with your last message')
  })

  it('calls the ask tool and an exposed tool', async () => {
    const asked = await inspector(`${t.url}/echo/mcp`, 'key-ann', ['--method', 'tools/call', '--tool-name', 'ask_echo', '--tool-arg', 'message=hello inspector'])
    expect(asked.content[0].text).toBe('hello inspector')
    const who = await inspector(`${t.url}/echo/mcp`, 'key-ann', ['--method', 'tools/call', '--tool-name', 'whoami'])
    expect(JSON.parse(who.content[0].text)).toEqual({ user: 'ann', scope: 'all', agent: 'echo' })
  })
})
