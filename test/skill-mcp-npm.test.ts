// A real MCP server from npm (@modelcontextprotocol/server-memory, a devDependency) used by an agent through
// skill-mcp, and the same agent's tools offered onwards over MCP by plugin-mcp (MCP in, MCP out).
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MEMORY_SERVER, callThroughAgent } from './helpers/mcp.js'
import { startServer, type TestServer } from './helpers/test-server.js'

describe('skill-mcp with @modelcontextprotocol/server-memory from npm', () => {
  let t: TestServer
  let dir: string
  const memoryFile = () => join(dir, 'memory.jsonl')

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'robutler-memory-'))
    t = await startServer(['local', 'skillMcp', 'pluginMcp'], {
      env: { PATH: process.env.PATH! },
      plugins: { '@robutler/plugin-local': {}, '@robutler/plugin-mcp': { agents: { memo: { exposeTools: true } } } },
      agents: [
        {
          name: 'memo',
          description: 'Remembers things in a knowledge graph',
          model: 'local/echo',
          skills: { '@robutler/skill-mcp': { servers: { memory: { command: process.execPath, args: [MEMORY_SERVER], env: { MEMORY_FILE_PATH: memoryFile() } } } } },
        },
      ],
    })
  })
  afterAll(async () => {
    await t?.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('the agent writes to and reads from the memory server', async () => {
    const entities = [{ name: 'Robutler', entityType: 'project', observations: ['serves agents over HTTP'] }]
    const created = JSON.parse(await callThroughAgent(t.url, 'memo', 'memory__create_entities', { entities }))
    expect(created).toMatchObject([{ name: 'Robutler', entityType: 'project' }])
    const found = JSON.parse(await callThroughAgent(t.url, 'memo', 'memory__search_nodes', { query: 'agents' }))
    expect(found.entities.map((e: any) => e.observations)).toEqual([['serves agents over HTTP']])
    // The server's own store, written by the server process the skill started.
    expect(await readFile(memoryFile(), 'utf8')).toContain('serves agents over HTTP')
  })

  it('an MCP client reaches the memory server through the agent (plugin-mcp exposeTools)', async () => {
    const client = new Client({ name: 'robutler-test', version: '1.0.0' })
    await client.connect(new StreamableHTTPClientTransport(new URL(`${t.url}/memo/mcp`)))
    try {
      const names = (await client.listTools()).tools.map((tool) => tool.name)
      expect(names).toEqual(expect.arrayContaining(['ask_memo', 'memory__read_graph', 'memory__add_observations']))
      const graph = (await client.callTool({ name: 'memory__read_graph', arguments: {} })) as CallToolResult
      expect(JSON.parse((graph.content[0] as { text: string }).text).entities[0].name).toBe('Robutler')
    } finally {
      await client.close()
    }
  })
})
