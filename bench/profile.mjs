#!/usr/bin/env node
// Profiles one server under the benchmark load: forks bench/servers/<server>.mjs with --cpu-prof, warms it up,
// drives it, stops it (the profile is written as it exits), then prints where the server spent its CPU time.
//   node bench/profile.mjs [json|stream] [kernel|baseline|kernel-dynamic]     BENCH_DURATION=10, PROFILE_TOP=25
//   node bench/profile.mjs ttfb [connections]   the kernel-openai server (plugin-openai in front of the fake
//                                               upstream) under provider-ttfb's closed loop (default 50 streams);
//                                               PROFILE_HELD_MS=100 holds each upstream stream open as the
//                                               budget's run does (an event every 100 ms, arrivals spread)
// The kernel server's variants pass through the environment: BENCH_KERNEL_PROMETHEUS=1 (plugin-prometheus),
// BENCH_KERNEL_AUTH_KEY=rbt_… (plugin-auth-keys with that key; the load then sends it as a Bearer token), and
// PROFILE_PATH=/dyn/chat/completions with server kernel-dynamic (the cached dynamic agent; /static/… the static one);
// PROFILE_BODY='{…}' sends another JSON body (a surface's route: BENCH_KERNEL_RESPONSES=1 PROFILE_PATH=/responses).
// BENCH_APP_DIR=<another checkout> with server kernel profiles that checkout's kernel and plugins (bench/compare.mjs).
// Summarise an existing profile: node bench/profile.mjs --summary path/to/file.cpuprofile
import { mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { JSON_BODY, JSON_HEADERS, PATH, STREAM_BODY } from './answers.mjs'
import { closedLoop, percentiles } from './clients.mjs'
import { BENCH_DIR, load, startServer, stopServer } from './lib.mjs'

const TOP = Number(process.env.PROFILE_TOP ?? 25)
const duration = Number(process.env.BENCH_DURATION ?? 10)
const BODIES = { json: process.env.PROFILE_BODY || JSON_BODY, stream: STREAM_BODY }

function where(url) {
  if (!url) return ''
  const path = url.replace(/^file:\/\//, '')
  const nm = path.lastIndexOf('node_modules/')
  if (nm >= 0) return path.slice(nm + 'node_modules/'.length)
  if (path.startsWith('/')) return relative(join(BENCH_DIR, '..'), path)
  return path
}

function area(url, name) {
  if (!url) return name.startsWith('(') ? name : '(native/builtin)'
  if (url.startsWith('node:')) return 'node core'
  const path = where(url)
  if (path.startsWith('@robutler/') || path.startsWith('kernel/') || path.startsWith('plugins/')) {
    return path.split('/').slice(0, path.startsWith('@') ? 2 : 1).join('/')
  }
  const parts = path.split('/')
  return parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]
}

export function summarise(file) {
  const profile = JSON.parse(readFileSync(file, 'utf8'))
  const byId = new Map(profile.nodes.map((node) => [node.id, node]))
  const parent = new Map()
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id)
  const keyOf = (node) => {
    const { functionName, url, lineNumber } = node.callFrame
    return `${functionName || '(anonymous)'}  ${where(url)}${url ? `:${lineNumber + 1}` : ''}`
  }
  const self = new Map()
  const total = new Map()
  const areas = new Map()
  let all = 0
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = profile.timeDeltas[i] ?? 0
    const node = byId.get(profile.samples[i])
    all += dt
    const key = keyOf(node)
    self.set(key, (self.get(key) ?? 0) + dt)
    const a = area(node.callFrame.url, node.callFrame.functionName)
    areas.set(a, (areas.get(a) ?? 0) + dt)
    const seen = new Set()
    for (let id = node.id; id !== undefined; id = parent.get(id)) {
      const k = keyOf(byId.get(id))
      if (seen.has(k)) continue
      seen.add(k)
      total.set(k, (total.get(k) ?? 0) + dt)
    }
  }
  const pct = (t) => `${((100 * t) / all).toFixed(1).padStart(5)}%`
  const top = (map, n) => [...map].sort((a, b) => b[1] - a[1]).slice(0, n)
  console.log(`\n${file}: ${(all / 1e6).toFixed(1)} s sampled`)
  console.log('\nSelf time by area:')
  for (const [k, t] of top(areas, 15)) console.log(`  ${pct(t)}  ${k}`)
  console.log(`\nTop ${TOP} functions by self time:`)
  for (const [k, t] of top(self, TOP)) console.log(`  ${pct(t)}  ${k}`)
  console.log(`\nTop ${TOP} project functions by total (inclusive) time:`)
  const ours = new Map([...total].filter(([k]) => /\s(kernel|plugins|skills|@robutler)\//.test(k)))
  for (const [k, t] of top(ours, TOP)) console.log(`  ${pct(t)}  ${k}`)
}

/**
 * Runs `drive(execArgv)`, which starts the profiled server with those flags (--cpu-prof into bench/profiles/), loads
 * it and stops it (the profile is written as it exits); then summarises the profile it wrote.
 */
async function profileRun(drive) {
  const dir = join(BENCH_DIR, 'profiles')
  mkdirSync(dir, { recursive: true })
  const before = new Set(readdirSync(dir))
  await drive(['--cpu-prof', `--cpu-prof-dir=${dir}`])
  const fresh = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile') && !before.has(f))
  if (fresh.length === 0) throw new Error(`no profile was written to ${dir}`)
  fresh.sort((a, b) => statSync(join(dir, b)).mtimeMs - statSync(join(dir, a)).mtimeMs)
  summarise(join(dir, fresh[0]))
}

if (process.argv[2] === '--summary') {
  for (const file of process.argv.slice(3)) summarise(file)
} else if (process.argv[2] === 'ttfb') {
  const connections = Number(process.argv[3] ?? 50)
  const heldMs = Number(process.env.PROFILE_HELD_MS ?? 0)
  await profileRun(async (execArgv) => {
    const fake = await startServer('fake-openai', { env: heldMs > 0 ? { BENCH_UPSTREAM_CHUNK_DELAY_MS: String(heldMs) } : {} })
    try {
      const server = await startServer(process.env.PROFILE_SERVER || 'kernel-openai', { execArgv, env: { BENCH_UPSTREAM_URL: fake.url } })
      try {
        const options = {
          url: `${server.url}/bench/chat/completions`,
          headers: JSON_HEADERS,
          body: JSON.stringify({ model: 'x', stream: true, messages: [{ role: 'user', content: 'hello world' }] }),
          connections,
          staggerMs: heldMs * 4,
          check: ({ status, text }) => (status === 200 && text.endsWith('data: [DONE]\n\n') ? null : `status ${status}`),
        }
        await closedLoop({ ...options, duration: 2 })
        const r = await closedLoop({ ...options, duration })
        const t = percentiles(r.ttfb)
        console.log(`kernel-openai ttfb, ${connections} streams (profiling, slower than a real run): ${Math.round(r.rps)} streams/s, TTFB p50 ${t.p50.toFixed(2)} ms, p99 ${t.p99.toFixed(2)} ms, ${r.failures} failed`)
      } finally {
        await stopServer(server)
      }
    } finally {
      await stopServer(fake)
    }
  })
} else {
  const kind = process.argv[2] ?? 'json'
  const serverName = process.argv[3] ?? 'kernel'
  if (!BODIES[kind]) throw new Error(`unknown load '${kind}': json or stream`)
  await profileRun(async (execArgv) => {
    const server = await startServer(serverName, { execArgv })
    try {
      const headers = process.env.BENCH_KERNEL_AUTH_KEY ? { authorization: `Bearer ${process.env.BENCH_KERNEL_AUTH_KEY}` } : {}
      const options = { path: process.env.PROFILE_PATH || PATH, body: BODIES[kind], connections: 50, headers }
      await load(server, { ...options, duration: 2 })
      const r = await load(server, { ...options, duration })
      console.log(`${serverName} ${kind} (profiling, slower than a real run): ${Math.round(r.rps)} req/s, p50 ${r.p50} ms, p99 ${r.p99} ms`)
    } finally {
      await stopServer(server)
    }
  })
}
