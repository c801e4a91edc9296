// startup: createServer → listening with 20 plugins and 100 agents, in fresh processes (median of 5), against bare
// Fastify; info.
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { checkJson, fail, JSON_BODY } from '../answers.mjs'
import { median } from '../clients.mjs'
import { get, linkedApp, probe, startServer, stopServer } from '../lib.mjs'
import { fmtMs, TIMING_COLUMNS } from '../report.mjs'

export const startup = {
  id: 'startup',
  name: 'startup',
  plugins: 20,
  agents: 100,
  runs: 5,
  run: (context) => runStartup(startup, context),
  method: () => startupMethod(startup),
}

/** A temp app whose node_modules hold `count` small fixture plugins (half scoped) and a link to plugin-local. */
async function startupApp(count) {
  const app = await linkedApp({ '@robutler/plugin-local': 'plugins/local' })
  try {
    const names = []
    for (let i = 1; i <= count; i++) {
      const id = String(i).padStart(2, '0')
      const name = i % 2 ? `robutler-plugin-bench-${id}` : `@bench/robutler-plugin-${id}`
      names.push(name)
      const dir = join(app.dir, 'node_modules', name)
      await mkdir(dir, { recursive: true })
      await writeFile(
        join(dir, 'package.json'),
        JSON.stringify({
          name,
          version: '1.0.0',
          type: 'module',
          exports: './index.js',
          keywords: ['robutler-plugin'],
          peerDependencies: { '@robutler/kernel': '^1.0.0' },
          robutler: { kind: 'plugin', kernel: '^1.0.0', provides: [`bench:p${id}`], requires: [] },
        }, null, 2),
      )
      // What definePlugin makes, without importing the kernel: a frozen object with the package brand.
      await writeFile(
        join(dir, 'index.js'),
        `export default Object.freeze({\n` +
          `  name: 'bench-${id}',\n` +
          `  async register(kernel) {\n` +
          `    kernel.health.add('bench-${id}', async () => {})\n` +
          `  },\n` +
          `  [Symbol.for('robutler.package')]: 'plugin',\n` +
          `})\n`,
      )
    }
    return { ...app, names }
  } catch (error) {
    await app.cleanup()
    throw error
  }
}

async function runStartup(bench, context) {
  const app = await startupApp(bench.plugins)
  try {
    const full = join(app.dir, 'full.json')
    const minimal = join(app.dir, 'minimal.json')
    const agents = Array.from({ length: bench.agents }, (_, i) => ({
      name: `agent-${String(i + 1).padStart(3, '0')}`,
      model: 'local/echo',
      instructions: `You are bench agent ${i + 1}.`,
    }))
    const plugins = Object.fromEntries([['@robutler/plugin-local', {}], ...app.names.map((name) => [name, {}])])
    await writeFile(full, JSON.stringify({ plugins, agents }))
    await writeFile(minimal, JSON.stringify({ plugins: { '@robutler/plugin-local': {} }, agents: [{ name: 'echo', model: 'local/echo' }] }))
    const sides = [
      { key: 'fastify', label: 'bare Fastify', server: 'startup-fastify', env: {} },
      { key: 'full', label: `kernel, ${bench.plugins} plugins + plugin-local, ${bench.agents} agents`, server: 'startup-kernel', env: { BENCH_APP_DIR: app.dir, BENCH_STARTUP_CONFIG: full } },
      { key: 'minimal', label: 'kernel, plugin-local + 1 agent', server: 'startup-kernel', env: { BENCH_APP_DIR: app.dir, BENCH_STARTUP_CONFIG: minimal } },
    ]
    const samples = Object.fromEntries(sides.map((side) => [side.key, []]))
    context.write(`${bench.name}: `)
    // Round 0 warms the file cache and is not counted; each round starts every side once, in turn.
    for (let round = 0; round <= bench.runs; round++) {
      for (const side of sides) {
        const server = await startServer(side.server, { env: side.env })
        try {
          if (round === 0 && side.key === 'full') await checkStartupApp(server, bench)
          if (round > 0) samples[side.key].push(server.ready)
        } finally {
          await stopServer(server)
        }
      }
      context.write(round === 0 ? 'warm-up' : ` ${round}`)
    }
    context.write('\n')
    const stat = (key, field) => median(samples[key].map((s) => s[field]))
    const rows = []
    const base = stat('fastify', 'startMs')
    for (const key of ['full', 'minimal']) {
      const side = sides.find((s) => s.key === key)
      rows.push({
        bench: bench.name,
        metric: `createServer → listening, ${side.label} (median of ${bench.runs})`,
        figure: `${fmtMs(stat(key, 'startMs'))} ms`,
        baseline: `${fmtMs(base)} ms (Fastify() → listening)`,
        ratio: `${(stat(key, 'startMs') / base).toFixed(1)}×`,
        budget: '-',
        result: 'info',
      })
    }
    rows.push({
      bench: bench.name,
      metric: `process start → listening, ${sides[1].label} (median of ${bench.runs})`,
      figure: `${fmtMs(stat('full', 'sinceProcessMs'))} ms`,
      baseline: `${fmtMs(stat('fastify', 'sinceProcessMs'))} ms (bare Fastify)`,
      ratio: `${(stat('full', 'sinceProcessMs') / stat('fastify', 'sinceProcessMs')).toFixed(1)}×`,
      budget: '-',
      result: 'info',
    })
    const details = sides.map((side) => {
      const runs = samples[side.key]
      return {
        bench: bench.name,
        side: side.label,
        runs: runs.map((s) => fmtMs(s.startMs)).join(' / '),
        startMedian: fmtMs(stat(side.key, 'startMs')),
        startMin: fmtMs(Math.min(...runs.map((s) => s.startMs))),
        startMax: fmtMs(Math.max(...runs.map((s) => s.startMs))),
        importMedian: fmtMs(stat(side.key, 'importMs')),
        processMedian: fmtMs(stat(side.key, 'sinceProcessMs')),
      }
    })
    return { rows, tables: [{ key: 'startup', columns: TIMING_COLUMNS, rows: details }], notes: [] }
  } finally {
    await app.cleanup()
  }
}

/** The big app must really run what it was given: every plugin's health check, every agent, an answer. */
async function checkStartupApp(server, bench) {
  const info = JSON.parse((await get(server, '/info')).text)
  if (info.agents_count !== bench.agents) fail(`/info counts ${info.agents_count} agents, not ${bench.agents}`)
  const ready = await get(server, '/ready')
  const checks = Object.keys(JSON.parse(ready.text).checks ?? {}).filter((name) => name.startsWith('bench-'))
  if (ready.status !== 200 || checks.length !== bench.plugins) fail(`/ready: ${ready.status}, ${checks.length} fixture plugin checks of ${bench.plugins}: ${ready.text.slice(0, 300)}`)
  const last = `agent-${String(bench.agents).padStart(3, '0')}`
  checkJson(await probe(server, { path: `/${last}/chat/completions`, body: JSON_BODY }))
}

function startupMethod(bench) {
  return (
    `Startup (startup): a temp app whose node_modules hold ${bench.plugins} fixture plugin packages (half of them scoped; a ` +
    `robutler manifest each and a default export branded Symbol.for('robutler.package') = 'plugin' whose register adds one ` +
    `health check) and a link to plugin-local, and a config of ${bench.agents} agents on local/echo. Each start is a fresh ` +
    `process (bench/servers/startup-kernel.mjs) timing createServer({ appDir, plugins, agents }) until listen() resolves ` +
    `(after \`import('@robutler/kernel')\`, timed apart); baseline: a fresh process timing Fastify() with one route until ` +
    `listen() resolves (bench/servers/startup-fastify.mjs, the kernel's fastify). A third side, the kernel with plugin-local ` +
    `and one agent, shows what the ${bench.plugins} plugins and ${bench.agents} agents add. One uncounted round first (file cache), ` +
    `then ${bench.runs} rounds, each side once per round; medians. The big app is checked once: /info counts ${bench.agents} ` +
    `agents, /ready runs the ${bench.plugins} plugins' checks, the last agent answers.`
  )
}
