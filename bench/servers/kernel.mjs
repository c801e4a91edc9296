// The kernel under test: plugin-local with the echo agent, logLevel 'info', its default log destination
// (stdout, batched) which the bench points at /dev/null, and env {} (nothing from the bench's environment, such
// as DATABASE_URL or PROMETHEUS_ENABLED, changes what is measured).
// BENCH_APP_DIR=<dir> serves another checkout of this repo: its @robutler/kernel and its plugins, as its own
// node_modules resolve them (default: this repo). The ready message names the kernel file that was loaded.
// Variants, for the benchmarks that change one thing (unset: the plain kernel):
//   BENCH_KERNEL_AUTH_KEY=<key>         @robutler/plugin-auth-keys with that one config key (user 'bench', scope 'all')
//   BENCH_KERNEL_PROMETHEUS=1           @robutler/plugin-prometheus {}
//   BENCH_KERNEL_RATE_LIMIT_REDIS=<url> @robutler/plugin-rate-limit counting in that Redis under
//   BENCH_KERNEL_RATE_LIMIT_PREFIX=<p>  that key prefix (required with it: one of the run's own, so no other
//                                       data is touched), with limits the load never reaches (1e9 in 10 minutes)
//   BENCH_KERNEL_USAGE=1                @robutler/plugin-usage, metering in memory, no budget
//   BENCH_KERNEL_USAGE_REDIS=<url>      @robutler/plugin-usage with a budget on the echo agent, counted in that Redis
//   BENCH_KERNEL_MESSAGES=1             @robutler/plugin-messages {} (the Anthropic Messages API surface)
//   BENCH_KERNEL_CONSOLE=1              @robutler/plugin-console {} (the operator console, enabled but not open)
//   BENCH_KERNEL_CHUNK_DELAY_MS=<ms>    plugin-local { chunkDelayMs } (slow streams that stay open)
//   BENCH_KERNEL_OTEL=<url>             @robutler/plugin-otel exporting to that OTLP endpoint, with
//   BENCH_KERNEL_OTEL_RATIO=<0..1>      the traceidratio sampler at that ratio (unset: always_on)
//   BENCH_KERNEL_RESPONSES=1            @robutler/plugin-responses {} (the Responses API surface, memory store)
//   BENCH_KERNEL_RESPONSES_DATABASE=<url> and BENCH_KERNEL_RESPONSES_PREFIX=<name>: its PostgreSQL store instead
// BENCH_KERNEL_LOG_LEVEL overrides the level for diagnosis only (run.mjs always measures 'info').
// Listens on 127.0.0.1:0 and sends { port, kernel } to the parent over IPC; exits when the parent disconnects.
import { pathToFileURL } from 'node:url'
import { kernelEntry, REPO_DIR } from './app.mjs'
import { portOf, serveChild } from './child.mjs'

const appDir = process.env.BENCH_APP_DIR || REPO_DIR
const kernel = kernelEntry(appDir)
const { createServer } = await import(pathToFileURL(kernel).href)
const chunkDelayMs = Number(process.env.BENCH_KERNEL_CHUNK_DELAY_MS || 0)
const plugins = { '@robutler/plugin-local': chunkDelayMs > 0 ? { chunkDelayMs } : {} }
if (process.env.BENCH_KERNEL_AUTH_KEY) {
  plugins['@robutler/plugin-auth-keys'] = { keys: [{ key: process.env.BENCH_KERNEL_AUTH_KEY, userId: 'bench', scope: 'all' }] }
}
if (process.env.BENCH_KERNEL_PROMETHEUS === '1') plugins['@robutler/plugin-prometheus'] = {}
if (process.env.BENCH_KERNEL_RATE_LIMIT_REDIS) {
  const keyPrefix = process.env.BENCH_KERNEL_RATE_LIMIT_PREFIX
  if (!keyPrefix) throw new Error('BENCH_KERNEL_RATE_LIMIT_REDIS needs BENCH_KERNEL_RATE_LIMIT_PREFIX (a prefix of this run only)')
  plugins['@robutler/plugin-rate-limit'] = { redis: process.env.BENCH_KERNEL_RATE_LIMIT_REDIS, keyPrefix, max: 1e9, timeWindow: '10 minutes' }
}
if (process.env.BENCH_KERNEL_MESSAGES === '1') plugins['@robutler/plugin-messages'] = {}
if (process.env.BENCH_KERNEL_OTEL) {
  const ratio = process.env.BENCH_KERNEL_OTEL_RATIO
  plugins['@robutler/plugin-otel'] = { endpoint: process.env.BENCH_KERNEL_OTEL, ...(ratio ? { sampler: 'traceidratio', samplerArg: Number(ratio) } : { sampler: 'always_on' }) }
}
if (process.env.BENCH_KERNEL_RESPONSES === '1') {
  const database = process.env.BENCH_KERNEL_RESPONSES_DATABASE
  plugins['@robutler/plugin-responses'] = database ? { database, tablePrefix: process.env.BENCH_KERNEL_RESPONSES_PREFIX } : {}
}
if (process.env.BENCH_KERNEL_USAGE === '1') plugins['@robutler/plugin-usage'] = { prices: { 'local/echo': { input: 1, output: 2 } } }
if (process.env.BENCH_KERNEL_USAGE_REDIS) {
  plugins['@robutler/plugin-usage'] = {
    prices: { 'local/echo': { input: 1, output: 2 } },
    redis: process.env.BENCH_KERNEL_USAGE_REDIS,
    redisPrefix: `rbt-bench-usage-${process.pid}:`,
    budgets: [{ name: 'bench', match: { agent: 'echo' }, period: 'total', tokens: 1e15 }],
  }
}
if (process.env.BENCH_KERNEL_CONSOLE === '1') plugins['@robutler/plugin-console'] = {}

const server = await createServer({
  appDir,
  plugins,
  agents: [{ name: 'echo', model: 'local/echo' }],
  logLevel: process.env.BENCH_KERNEL_LOG_LEVEL || 'info',
  env: {},
})
const address = await server.listen({ host: '127.0.0.1', port: 0 })
serveChild(portOf(address), () => server.close(), { kernel })
