// mcp-tool-call: one MCP tool call through @robutler/skill-mcp (its tool's run(), as the kernel calls it) to a stdio
// server, against the same call made directly with the SDK's Client and StdioClientTransport to another process
// of the same server, in the same run; budget: ≤ 1 ms more at p50.
import { join } from 'node:path'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js'
import { pino } from 'pino'
import { fail } from '../answers.mjs'
import { percentiles } from '../clients.mjs'
import { REPO_DIR } from '../lib.mjs'
import { fmtInt, fmtMs } from '../report.mjs'

export const mcpToolCall = {
  id: 'mcp-tool-call',
  name: 'mcp tool call',
  warmup: 300,
  blocks: 16,
  perBlock: 250,
  maxAddedP50Ms: 1,
  run: (context) => runMcpToolCall(mcpToolCall, context),
  method: () => mcpToolCallMethod(mcpToolCall),
}

const FIXTURE = join(REPO_DIR, 'test/fixtures/mcp/stdio-server.mjs')
const ARGS = { text: 'hello over stdio' }

const COLUMNS = [
  ['bench', 'benchmark'],
  ['side', 'side'],
  ['n', 'calls'],
  ['p50', 'p50 ms'],
  ['p90', 'p90 ms'],
  ['p99', 'p99 ms'],
  ['max', 'max ms'],
]

/** The SDK's own client on its own child: the baseline. */
async function directSide() {
  const client = new Client({ name: 'bench', version: '1.0.0' })
  await client.connect(new StdioClientTransport({ command: process.execPath, args: [FIXTURE], stderr: 'ignore' }))
  return {
    call: async () => (await client.callTool({ name: 'echo', arguments: ARGS })).content[0].text,
    close: () => client.close(),
  }
}

/** skill-mcp set up for one agent with a stand-in of the skill API, its fx__echo tool run as the kernel runs it. */
async function skillSide() {
  const { default: skill } = await import('@robutler/skill-mcp')
  const closers = []
  const log = pino({ level: 'silent' })
  const api = {
    agent: 'bench',
    version: '1.0.0',
    env: process.env,
    baseDir: REPO_DIR,
    log,
    shared: (make) => make(),
    onClose: (fn) => void closers.push(fn),
    health: { add: () => {} },
  }
  const parts = await skill.setup({ servers: { fx: { command: process.execPath, args: [FIXTURE] } } }, api)
  const tool = parts.toolSource.tools().find((t) => t.name === 'fx__echo')
  if (!tool) fail('skill-mcp offered no fx__echo tool')
  return {
    // A signal per call, as the kernel gives each tool call its own (the request's, with the tool time limit).
    call: () => tool.run(ARGS, { signal: new AbortController().signal, context: { log }, log }),
    close: () => Promise.all(closers.map((fn) => fn())),
  }
}

async function timed(side, count, samples) {
  for (let i = 0; i < count; i++) {
    const t0 = performance.now()
    const text = await side.call()
    samples?.push(performance.now() - t0)
    if (text !== ARGS.text) fail(`the tool answered ${JSON.stringify(text)}`)
  }
}

async function runMcpToolCall(bench, context) {
  const direct = await directSide()
  let through
  try {
    through = await skillSide()
    await timed(direct, bench.warmup)
    await timed(through, bench.warmup)
    const samples = { direct: [], skill: [] }
    context.write(`${bench.name}:`)
    // Alternating blocks: a slow moment of the machine falls on both sides alike.
    for (let block = 0; block < bench.blocks; block++) {
      await timed(direct, bench.perBlock, samples.direct)
      await timed(through, bench.perBlock, samples.skill)
      context.write(` ${block + 1}`)
    }
    context.write('\n')
    const d = percentiles(samples.direct)
    const s = percentiles(samples.skill)
    const added = s.p50 - d.p50
    const rows = [
      {
        bench: bench.name,
        metric: `stdio tools/call p50, through skill-mcp (${fmtInt(s.n)} calls)`,
        figure: `${fmtMs(s.p50)} ms`,
        baseline: `${fmtMs(d.p50)} ms (SDK Client, direct)`,
        ratio: `${added >= 0 ? '+' : ''}${fmtMs(added)} ms (${(s.p50 / d.p50).toFixed(2)}×)`,
        budget: `≤ +${bench.maxAddedP50Ms} ms`,
        result: added <= bench.maxAddedP50Ms ? 'PASS' : 'MISS',
      },
      {
        bench: bench.name,
        metric: 'stdio tools/call p99, through skill-mcp',
        figure: `${fmtMs(s.p99)} ms`,
        baseline: `${fmtMs(d.p99)} ms (SDK Client, direct)`,
        ratio: `${(s.p99 / d.p99).toFixed(2)}×`,
        budget: '-',
        result: 'info',
      },
    ]
    const details = [
      ['SDK Client + StdioClientTransport', d],
      ['skill-mcp tool run()', s],
    ].map(([side, p]) => ({ bench: bench.name, side, n: fmtInt(p.n), p50: fmtMs(p.p50), p90: fmtMs(p.p90), p99: fmtMs(p.p99), max: fmtMs(p.max) }))
    return { rows, tables: [{ key: 'mcp', columns: COLUMNS, rows: details }], notes: [] }
  } finally {
    await direct.close()
    await through?.close()
  }
}

function mcpToolCallMethod(bench) {
  return (
    `MCP tool call (mcp-tool-call): in this process, two children of the fixture MCP server test/fixtures/mcp/stdio-server.mjs ` +
    `(the real SDK's Server over StdioServerTransport). Baseline: the SDK's Client over its StdioClientTransport calling ` +
    `tools/call echo. Figure: @robutler/skill-mcp set up for one agent (a stand-in of the skill API: no server), its ` +
    `fx__echo tool's run(args, ctx) with a fresh AbortSignal per call, as the kernel calls a tool — the skill's own child ` +
    `process transport (a process group of its own), the name mapping and the result turned into the model's text. Each ` +
    `answer is checked. ${bench.warmup} uncounted calls a side, then ${bench.blocks} alternating blocks of ${bench.perBlock} ` +
    `sequential calls a side; nearest-rank percentiles of every call's time. The kernel's own part of a tool call ` +
    `(validation, hooks, events, time limit) is the same for every tool and is not in either figure.`
  )
}
