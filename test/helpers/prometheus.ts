// Helpers of the plugin-prometheus tests: apps with the plugin linked in, a server started over one, a reader of
// the Prometheus text format, and promtool.
import { spawn, spawnSync } from 'node:child_process'
import { mkdir, symlink, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import type { ServerOptions } from '@robutler/kernel'
import { linkedApp, ROOT, serveApp, type PackageKey, type TestServer } from './test-server.js'

export const PROMETHEUS_PLUGIN = '@robutler/plugin-prometheus'

/** A package written into the app's node_modules from source (a test-only plugin). */
export interface SourcePackage {
  name: string
  packageJson: Record<string, unknown>
  files: Record<string, string>
}

/** linkedApp(keys) with plugin-prometheus linked too (as npm workspaces do), and any `extra` packages written. */
export async function prometheusApp(keys: PackageKey[], extra: SourcePackage[] = []): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const app = await linkedApp(keys)
  try {
    const target = join(app.dir, 'node_modules', PROMETHEUS_PLUGIN)
    await mkdir(dirname(target), { recursive: true })
    await symlink(join(ROOT, 'plugins/prometheus'), target, 'dir')
    for (const pkg of extra) {
      const folder = join(app.dir, 'node_modules', pkg.name)
      await mkdir(folder, { recursive: true })
      await writeFile(join(folder, 'package.json'), JSON.stringify({ name: pkg.name, version: '1.0.0', type: 'module', ...pkg.packageJson }))
      for (const [file, text] of Object.entries(pkg.files)) await writeFile(join(folder, file), text)
    }
  } catch (error) {
    await app.cleanup()
    throw error
  }
  return app
}

/**
 * A plugin that emits `limit:rejected` as a limits plugin would: `POST /test/reject/:limit` answers 429.
 * Written from source (the brand via Symbol.for, as fixture packages do: they cannot import the kernel).
 */
export const REJECTING_PLUGIN: SourcePackage = {
  name: 'robutler-plugin-rejecting',
  packageJson: {
    exports: './index.js',
    keywords: ['robutler-plugin'],
    peerDependencies: { '@robutler/kernel': '^1.0.0' },
    robutler: { kind: 'plugin', kernel: '^1.0.0', provides: ['test:rejecting'], requires: [] },
  },
  files: {
    'index.js': `const brand = Symbol.for('robutler.package')
export default {
  [brand]: 'plugin',
  name: 'rejecting',
  register(kernel) {
    kernel.http.post('/test/reject/:limit', async function reject(request, reply) {
      kernel.events.emit('limit:rejected', { requestId: request.id, limit: request.params.limit, agent: null })
      return reply.code(429).send({ error: { message: 'refused', type: 'rate_limit_error', code: 'RBT_ERR_RATE_LIMITED', param: null } })
    })
  },
}
`,
  },
}

/** createServer over a prometheusApp + listen on 127.0.0.1:0, logs (warn and up) captured in memory. */
export async function startPrometheusServer(keys: PackageKey[], options: ServerOptions, extra: SourcePackage[] = []): Promise<TestServer> {
  return serveApp(await prometheusApp(keys, extra), { logLevel: 'warn', ...options })
}

export interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$/
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g

/** The samples of a Prometheus text exposition (comments and blank lines skipped). */
export function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = []
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const match = SAMPLE.exec(line)
    if (!match) throw new Error(`not a sample line: ${line}`)
    const labels: Record<string, string> = {}
    for (const [, name, value] of (match[2] ?? '').matchAll(LABEL)) labels[name!] = value!.replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c))
    samples.push({ name: match[1]!, labels, value: Number(match[3]) })
  }
  return samples
}

/** The samples named `name` whose labels include `labels`. */
export function matching(samples: Sample[], name: string, labels: Record<string, string> = {}): Sample[] {
  return samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
}

/** The sum of the samples named `name` whose labels include `labels` (0 when there are none). */
export function total(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return matching(samples, name, labels).reduce((sum, s) => sum + s.value, 0)
}

/** The set of values one label takes across the samples named `name`. */
export function labelValues(samples: Sample[], name: string, label: string): Set<string> {
  return new Set(matching(samples, name).map((s) => s.labels[label]!))
}

/** The promtool binary on PATH, or null. */
export function findPromtool(): string | null {
  const found = spawnSync('sh', ['-c', 'command -v promtool'], { encoding: 'utf8' })
  return found.status === 0 && found.stdout.trim() !== '' ? found.stdout.trim() : null
}

/** Pipes the text into `promtool check metrics`; resolves with its exit code and output. */
export function promtoolCheck(promtool: string, text: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(promtool, ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => (output += d))
    child.stderr.setEncoding('utf8').on('data', (d: string) => (output += d))
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error('promtool check metrics did not finish within 10 s'))
    }, 10_000)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, output })
    })
    child.stdin.end(text)
  })
}

/** Why a promtool check cannot run here, or null when it can. Under CI=true a missing promtool is a failure. */
export const PROMTOOL_MISSING = 'promtool is not installed (Debian: apt-get install prometheus; .ci/run installs it)'
