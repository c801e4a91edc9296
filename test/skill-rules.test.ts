// The kernel's rules for what a skill's setup returns (skillPartsProblems), on their own and as createServer applies
// them. `robutler skills validate` reports the same problems (test/marketplace.test.ts).
import { afterEach, describe, expect, it } from 'vitest'
import { HOOK_NAMES, ROUTE_METHODS, SCOPES, TOOL_NAME, createServer, skillPartsProblems } from '@robutler/kernel'
import { definitionSource, makeApp } from './helpers/fixture-app.js'
import { LOCAL_PLUGIN, linkLocalPlugin } from './helpers/kernel-app.js'

const cleanups: Array<() => Promise<void>> = []

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

const run = () => 'ok'
const tool = (fields: Record<string, unknown>) => ({ name: 'ok_tool', description: 'a tool', parameters: { type: 'object' }, run, ...fields })

describe('skillPartsProblems', () => {
  it('takes well-formed parts, and parts that leave everything out', () => {
    const parts = {
      tools: [tool({}), tool({ name: 'pooled', run: undefined, worker: 'pooled', scope: 'owner' })],
      hooks: { onConnection: () => {}, beforeLlmCall: { priority: 10, fn: () => {} } },
      prompts: ['Be brief.'],
      http: [{ method: 'GET', path: '/status', handler: () => 'up' }],
    }
    expect(skillPartsProblems(parts, { workerPath: '/pkg/dist/worker.js' })).toEqual([])
    expect(skillPartsProblems({}, { workerPath: null })).toEqual([])
  })

  it('refuses a setup that returned no object of parts', () => {
    for (const returned of [undefined, null, 5, [tool({})]]) {
      expect(skillPartsProblems(returned, { workerPath: null })).toEqual([
        { part: 'setup', message: `returned ${JSON.stringify(returned) ?? 'undefined'}, not an object of parts` },
      ])
    }
  })

  it('lists every problem of every part, in order, each tool problem with the tool’s index', () => {
    const parts = {
      tools: [
        tool({ name: 'bad name' }),
        tool({ run: undefined }),
        tool({ description: undefined, scope: 'root', worker: 'w' }),
        tool({ name: 'ok_tool', run: 'not a function' }),
        tool({ name: 'pooled', run: undefined, worker: 'pooled' }),
        'not a tool',
      ],
      hooks: { onRequest: () => {}, onChunk: { priority: 1 } },
      http: [{ method: 'TRACE', path: 'status', handler: 'up' }],
    }
    expect(skillPartsProblems(parts, { workerPath: null })).toEqual([
      { part: 'tool bad name', toolIndex: 0, message: `the name must match ${TOOL_NAME}` },
      { part: 'tool ok_tool', toolIndex: 1, message: 'needs exactly one of run or worker' },
      { part: 'tool ok_tool', toolIndex: 2, message: 'is defined twice' },
      { part: 'tool ok_tool', toolIndex: 2, message: 'description must be a string' },
      { part: 'tool ok_tool', toolIndex: 2, message: 'needs exactly one of run or worker' },
      { part: 'tool ok_tool', toolIndex: 2, message: "names worker 'w' but the manifest has no robutler.worker module" },
      { part: 'tool ok_tool', toolIndex: 2, message: `scope must be one of ${SCOPES.join(', ')}` },
      { part: 'tool ok_tool', toolIndex: 3, message: 'is defined twice' },
      { part: 'tool ok_tool', toolIndex: 3, message: 'run must be a function' },
      { part: 'tool pooled', toolIndex: 4, message: "names worker 'pooled' but the manifest has no robutler.worker module" },
      { part: 'tool #6', toolIndex: 5, message: `the name must match ${TOOL_NAME}` },
      { part: 'tool #6', toolIndex: 5, message: 'description must be a string' },
      { part: 'tool #6', toolIndex: 5, message: 'needs exactly one of run or worker' },
      { part: 'hook onRequest', message: `no such hook; hooks: ${HOOK_NAMES.join(', ')}` },
      { part: 'hook onChunk', message: 'is neither a function nor { priority, fn }' },
      { part: 'route 1 (TRACE status)', message: `method must be one of ${ROUTE_METHODS.join(', ')}` },
      { part: 'route 1 (TRACE status)', message: 'path must start with /' },
      { part: 'route 1 (TRACE status)', message: 'handler must be a function' },
    ])
  })

  it('refuses tools, hooks and routes of the wrong type', () => {
    expect(skillPartsProblems({ tools: {}, hooks: [], http: 'GET /' }, { workerPath: null }).map((found) => found.part)).toEqual(['tools', 'hooks', 'http'])
  })
})

describe('createServer applies them', () => {
  it('refuses an agent whose skill returns bad parts with RBT_ERR_SKILL_SETUP_FAILED naming every problem', async () => {
    const setup = `setup: () => ({ tools: [{ name: 'both', description: 'x', parameters: { type: 'object' }, run: () => 1, worker: 'w' }], hooks: { onRequest: () => {} } })`
    const made = await makeApp({
      packages: [{ name: 'robutler-skill-flawed', manifest: { kind: 'skill' }, main: definitionSource('skill', 'flawed').replace('setup: (config) => ({ tools: [] })', setup) }],
    })
    cleanups.push(made.cleanup)
    await linkLocalPlugin(made.dir)
    const started = createServer({
      appDir: made.dir,
      logLevel: 'silent',
      env: {},
      plugins: { [LOCAL_PLUGIN]: {} },
      // In process: an isolated skill's hooks are refused before the kernel's part rules are applied.
      skills: { 'robutler-skill-flawed': { isolate: false } },
      agents: [{ name: 'echo', model: 'local/echo', skills: { 'robutler-skill-flawed': {} } }],
    })
    const error = await started.then(
      async (server) => {
        await server.close()
        return null
      },
      (thrown: unknown) => thrown as Error & { code?: string; problems?: Array<{ code: string; message: string }> },
    )
    // Refused as start refuses everything: one report (RBT_ERR_STARTUP), this problem in it with its own code.
    expect(error?.code).toBe('RBT_ERR_STARTUP')
    expect(error?.problems).toHaveLength(1)
    expect(error?.problems?.[0]?.code).toBe('RBT_ERR_SKILL_SETUP_FAILED')
    expect(error?.problems?.[0]?.message).toBe(
      "Skill 'robutler-skill-flawed' failed to set up for agent 'echo': tool both: needs exactly one of run or worker; " +
        "tool both: names worker 'w' but the manifest has no robutler.worker module; " +
        `hook onRequest: no such hook; hooks: ${HOOK_NAMES.join(', ')}`,
    )
  })
})
