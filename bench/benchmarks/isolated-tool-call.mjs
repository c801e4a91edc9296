// isolated-tool-call: a trivial tool call of an isolated skill (its own process pool, under Node's permission
// model) against the same tool of the same skill code run in the thread pool (a worker export, in process), both
// through one server's chat route in the same run; budget: ≤ 2 ms more at p50.
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createServer } from '@robutler/kernel'
import { fail } from '../answers.mjs'
import { percentiles } from '../clients.mjs'
import { linkedApp } from '../lib.mjs'
import { fmtInt, fmtMs } from '../report.mjs'

export const isolatedToolCall = {
  id: 'isolated-tool-call',
  name: 'isolated tool call',
  warmup: 300,
  blocks: 16,
  perBlock: 200,
  maxAddedP50Ms: 2,
  hostileCalls: 5,
  maxHealthP99Ms: 20,
  maxRssGrowthMb: 50,
  why: {
    '/health p99':
      'Before the isolation host thread, the fork that replaces an ended process ran on the event loop and took up to 80 ms on ' +
      'this loaded 2-core machine (timed in place); forks now happen in that thread. If it misses again, profile whether the ' +
      'machine itself stalls (the idle baseline here has reached 36 ms at load average 12).',
  },
  run: (context) => runIsolatedToolCall(isolatedToolCall, context),
  method: () => isolatedToolCallMethod(isolatedToolCall),
}

const COLUMNS = [
  ['bench', 'benchmark'],
  ['side', 'side'],
  ['n', 'calls'],
  ['p50', 'p50 ms'],
  ['p90', 'p90 ms'],
  ['p99', 'p99 ms'],
  ['max', 'max ms'],
]

/** The same skill twice, under two names: one the config runs in process (its worker tool in the thread pool), one isolated. */
async function writeSkill(dir, name) {
  const folder = join(dir, 'node_modules', name)
  await mkdir(folder, { recursive: true })
  const manifest = { kind: 'skill', kernel: '^1.0.0', worker: './worker.js' }
  await writeFile(join(folder, 'package.json'), JSON.stringify({ name, version: '1.0.0', type: 'module', main: 'index.js', peerDependencies: { '@robutler/kernel': '^1.0.0' }, robutler: manifest }))
  await writeFile(
    join(folder, 'index.js'),
    `export default { [Symbol.for('robutler.package')]: 'skill', name: 'trivial', setup: () => ({ tools: [{ name: 'echo', description: 'echo', parameters: { type: 'object', properties: { text: { type: 'string' } } }, worker: 'echo' }, { name: 'allocate', description: 'allocate', parameters: { type: 'object' }, worker: 'allocate' }] }) }\n`,
  )
  await writeFile(
    join(folder, 'worker.js'),
    'export function echo(args) { return args.text }\n' +
      'export function allocate() { const held = []; for (let i = 0; i < 32; i++) held.push(Buffer.alloc(64 * 1024 * 1024, 1)); return held.length }\n',
  )
}

async function timed(server, agent, count, samples) {
  const payload = { messages: [{ role: 'user', content: '/tool echo {"text": "hi"}' }] }
  for (let i = 0; i < count; i++) {
    const t0 = performance.now()
    const response = await server.app.inject({ method: 'POST', url: `/${agent}/chat/completions`, payload })
    samples?.push(performance.now() - t0)
    const content = response.statusCode === 200 ? response.json().choices[0].message.content : null
    if (content !== 'hi') fail(`${agent}: ${response.statusCode} ${response.body.slice(0, 200)}`)
  }
}

/** /health answer times, from send, every 5 ms until `until` resolves. */
async function probeHealth(url, until) {
  const samples = []
  let done = false
  until.finally(() => (done = true))
  while (!done) {
    const t0 = performance.now()
    const response = await fetch(url)
    await response.arrayBuffer()
    if (response.status !== 200) fail(`/health answered ${response.status}`)
    samples.push(performance.now() - t0)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  return percentiles(samples)
}

/** `count` calls of the isolated tool that allocates 2 GB of Buffers: each must fail at the memory limit. */
async function hostileCalls(server, count) {
  const payload = { messages: [{ role: 'user', content: '/tool allocate {}' }] }
  for (let i = 0; i < count; i++) {
    const response = await server.app.inject({ method: 'POST', url: '/isolated/chat/completions', payload })
    const content = response.statusCode === 200 ? response.json().choices[0].message.content : ''
    if (!content.includes('RBT_ERR_TOOL_FAILED')) fail(`allocate did not fail at the memory limit: ${content.slice(0, 200)}`)
  }
}

async function runIsolatedToolCall(bench, context) {
  const app = await linkedApp({ '@robutler/plugin-local': 'plugins/local' })
  let server
  try {
    await writeSkill(app.dir, 'robutler-skill-trivial-pool')
    await writeSkill(app.dir, 'robutler-skill-trivial-isolated')
    server = await createServer({
      appDir: app.dir,
      logLevel: 'silent',
      env: {},
      workerThreads: 1,
      plugins: { '@robutler/plugin-local': {} },
      skills: { 'robutler-skill-trivial-pool': { isolate: false }, 'robutler-skill-trivial-isolated': { isolate: true } },
      agents: [
        { name: 'pool', model: 'local/echo', skills: { 'robutler-skill-trivial-pool': {} } },
        { name: 'isolated', model: 'local/echo', skills: { 'robutler-skill-trivial-isolated': {} } },
      ],
    })
    await timed(server, 'pool', bench.warmup)
    await timed(server, 'isolated', bench.warmup)
    const samples = { pool: [], isolated: [] }
    context.write(`${bench.name}:`)
    // Alternating blocks: a slow moment of the machine falls on both sides alike.
    for (let block = 0; block < bench.blocks; block++) {
      await timed(server, 'pool', bench.perBlock, samples.pool)
      await timed(server, 'isolated', bench.perBlock, samples.isolated)
      context.write(` ${block + 1}`)
    }
    context.write('\n')
    // /health while the isolated skill allocates 2 GB per call, against /health while the server idles as long.
    const address = await server.listen({ host: '127.0.0.1', port: 0 })
    const rssBefore = process.memoryUsage().rss
    const t0 = performance.now()
    const loaded = await probeHealth(`${address}/health`, hostileCalls(server, bench.hostileCalls))
    const loadedMs = performance.now() - t0
    const rssGrowthMb = (process.memoryUsage().rss - rssBefore) / 1048576
    const idle = await probeHealth(`${address}/health`, new Promise((resolve) => setTimeout(resolve, loadedMs)))
    const p = percentiles(samples.pool)
    const i = percentiles(samples.isolated)
    const added = i.p50 - p.p50
    const rows = [
      {
        bench: bench.name,
        metric: `chat with one trivial tool call p50, isolated skill (${fmtInt(i.n)} calls)`,
        figure: `${fmtMs(i.p50)} ms`,
        baseline: `${fmtMs(p.p50)} ms (the same tool in the thread pool)`,
        ratio: `${added >= 0 ? '+' : ''}${fmtMs(added)} ms (${(i.p50 / p.p50).toFixed(2)}×)`,
        budget: `≤ +${bench.maxAddedP50Ms} ms`,
        result: added <= bench.maxAddedP50Ms ? 'PASS' : 'MISS',
      },
      {
        bench: bench.name,
        metric: `/health p99 while ${bench.hostileCalls} isolated calls allocate 2 GB each (${fmtInt(loaded.n)} probes)`,
        figure: `${fmtMs(loaded.p99)} ms`,
        baseline: `${fmtMs(idle.p99)} ms (idle, as long)`,
        ratio: `${(loaded.p99 / idle.p99).toFixed(2)}×`,
        budget: `≤ ${bench.maxHealthP99Ms} ms`,
        result: loaded.p99 <= bench.maxHealthP99Ms ? 'PASS' : 'MISS',
      },
      {
        bench: bench.name,
        metric: 'server RSS growth over those calls',
        figure: `${rssGrowthMb.toFixed(1)} MB`,
        baseline: `${(rssBefore / 1048576).toFixed(0)} MB before`,
        ratio: '-',
        budget: `≤ ${bench.maxRssGrowthMb} MB`,
        result: rssGrowthMb <= bench.maxRssGrowthMb ? 'PASS' : 'MISS',
      },
      {
        bench: bench.name,
        metric: 'chat with one trivial tool call p99, isolated skill',
        figure: `${fmtMs(i.p99)} ms`,
        baseline: `${fmtMs(p.p99)} ms (thread pool)`,
        ratio: `${(i.p99 / p.p99).toFixed(2)}×`,
        budget: '-',
        result: 'info',
      },
    ]
    const details = [
      ['thread pool (isolate: false, worker export)', p],
      ['isolated process pool', i],
    ].map(([side, q]) => ({ bench: bench.name, side, n: fmtInt(q.n), p50: fmtMs(q.p50), p90: fmtMs(q.p90), p99: fmtMs(q.p99), max: fmtMs(q.max) }))
    return { rows, tables: [{ key: 'isolated', columns: COLUMNS, rows: details }], notes: [] }
  } finally {
    await server?.close()
    await app.cleanup()
  }
}

function isolatedToolCallMethod(bench) {
  return (
    `Isolated tool call (isolated-tool-call): one in-process server (plugin-local, 1 pool thread, default isolation: 2 ` +
    `processes) with the same trivial skill installed under two names: one with "isolate": false, its tool a worker ` +
    `export run in the thread pool (the baseline), one with "isolate": true, its tool run in the skill's own process ` +
    `pool under Node's permission model (the figure). Each call is a whole chat through app.inject: local/echo calls ` +
    `the tool (/tool echo), then answers with its result, checked. ${bench.warmup} uncounted calls a side, then ` +
    `${bench.blocks} alternating blocks of ${bench.perBlock} sequential calls a side; nearest-rank percentiles. Then, ` +
    `listening on 127.0.0.1: /health fetched every 5 ms (time from send) while ${bench.hostileCalls} isolated calls ` +
    `each allocate 2 GB of Buffers and are ended at the 256 MB RSS limit (each checked to fail), against /health ` +
    `probed the same way for as long with the server idle; and the server process's RSS before and after those calls.`
  )
}
