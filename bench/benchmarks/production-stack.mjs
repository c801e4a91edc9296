// production-stack: kernel-json on the kernel as production runs it — plugin-auth-keys (one config key, the load
// sends it), plugin-rate-limit counting in Redis, plugin-prometheus — against the bare kernel (no plugin but
// plugin-local, anonymous load). Redis: REDIS_URL, default the local one; keys under a prefix of this run's own
// (they expire with their window; nothing is flushed or deleted).
import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import { fail, JSON_BODY, PATH } from '../answers.mjs'
import { get, probe, startServer, stopServer } from '../lib.mjs'
import { pairedRuns, runPaired } from '../overhead.mjs'
import { answered200s } from './prometheus-overhead.mjs'

const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379'

export const productionStack = {
  id: 'production-stack',
  name: 'production stack',
  connections: 50,
  minRatio: 0.7,
  why: {
    'req/s':
      'Why (when it misses): bench/profile.mjs json kernel with BENCH_KERNEL_AUTH_KEY, BENCH_KERNEL_PROMETHEUS=1 and ' +
      'BENCH_KERNEL_RATE_LIMIT_REDIS/_PREFIX. With a Redis round trip per count (two counts a request with a key: the ' +
      "per-address one before the lookup, then the user's), 18% of the stack's CPU was the socket writes to Redis and " +
      '7% ioredis (0.62×); the limiter now leases slots (plugins/rate-limit/README.md), so a busy caller costs one Redis ' +
      'call per counter per ~100 ms (ioredis 0.4–0.6%). Left per request: the rate-limit hook (two counts in memory, ' +
      'three X-RateLimit-* headers) and plugin-auth-keys (mostly SHA-256 by crypto.hash) ≈ 2% of the CPU together, ' +
      "prometheus' in-progress hook, its 'close' listener, the request:end/llm:end/agent:resolved events the kernel " +
      'builds for it and its recorders ≈ 2%, the longer answer in node core, and the loopback wake-up effect described ' +
      "under 'kernel overhead, JSON', which makes each added µs cost more req/s the slower the machine.",
  },
  run: (context) => runPaired(productionStack, setupStack, context),
  method: (context) =>
    `Production stack (production-stack): two kernels (bench/servers/kernel.mjs): the bare one (plugin-local only) and ` +
    `one with @robutler/plugin-auth-keys (one config key, 'rbt_' + 43 random base64url characters), ` +
    `@robutler/plugin-rate-limit counting in Redis (${REDIS_URL.replace(/\/\/[^@]*@/, '//')}, a key prefix of the run's own, ` +
    `max 1e9 in 10 minutes so the load is never refused) and @robutler/plugin-prometheus {} (checked first: a wrong key gets 401, ` +
    `an answer carries X-RateLimit-Limit, /metrics answers; after the load, that the 200s were counted in Redis and in the ` +
    `metrics). Both stay up; the kernel-overhead JSON load (${productionStack.connections} connections, ` +
    `${pairedRuns('bare', 'stack', context)}) runs on the bare kernel without a credential and on the stack with ` +
    `'Authorization: Bearer <key>'; ratio: the mean req/s of the stack over the mean of the bare kernel.`,
}

/** The sum of the rate-limit counters under `prefix` that count the bench user (`<scope>:user:bench`). */
async function countedInRedis(prefix) {
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 2_000 })
  try {
    await redis.connect()
    const value = await redis.get(`${prefix}*:user:bench`)
    return Number(value ?? 0)
  } finally {
    redis.disconnect()
  }
}

async function setupStack() {
  const key = `rbt_${randomBytes(32).toString('base64url')}`
  const prefix = `rbt-bench-rate-limit-${process.pid}-${randomBytes(4).toString('hex')}:`
  const bare = await startServer('kernel')
  let stack
  try {
    stack = await startServer('kernel', {
      env: {
        BENCH_KERNEL_AUTH_KEY: key,
        BENCH_KERNEL_PROMETHEUS: '1',
        BENCH_KERNEL_RATE_LIMIT_REDIS: REDIS_URL,
        BENCH_KERNEL_RATE_LIMIT_PREFIX: prefix,
      },
    })
    // Every part must be in the path: the key is checked, the limit counted, the metrics served.
    const wrong = await probe(stack, { path: PATH, body: JSON_BODY, headers: { authorization: `Bearer rbt_${'x'.repeat(43)}` } })
    if (wrong.status !== 401) fail(`a wrong key answered ${wrong.status}, not 401: ${wrong.text.slice(0, 200)}`)
    const right = await probe(stack, { path: PATH, body: JSON_BODY, headers: { authorization: `Bearer ${key}` } })
    if (right.status !== 200 || right.headers.get('x-ratelimit-limit') === null) {
      fail(`the stack answered ${right.status} without X-RateLimit-Limit: ${right.text.slice(0, 200)}`)
    }
    const metrics = await get(stack, '/metrics')
    if (metrics.status !== 200 || !metrics.text.includes('robutler_http_requests_total')) {
      fail(`/metrics on the stack: ${metrics.status} ${metrics.text.slice(0, 200)}`)
    }
  } catch (error) {
    if (stack) await stopServer(stack)
    await stopServer(bare)
    throw error
  }
  return {
    base: { label: 'bare', server: bare, path: PATH, headers: {} },
    subject: { label: 'stack', server: stack, path: PATH, headers: { authorization: `Bearer ${key}` } },
    cleanup: async () => {
      await stopServer(stack)
      await stopServer(bare)
    },
    notes: async () => {
      // The stack must have been working, not idle: the load's answers counted in Redis and in the metrics.
      const notes = []
      const metrics = await get(stack, '/metrics')
      const answered = answered200s(metrics.text)
      if (answered === 0) notes.push('production stack: robutler_http_requests_total counted no 200 answers after the load.')
      // Let a batched counter reach Redis before reading it.
      await new Promise((resolve) => setTimeout(resolve, 500))
      const inRedis = await countedInRedis(prefix)
      if (inRedis < answered * 0.99) notes.push(`production stack: Redis counted ${inRedis} requests of the bench user, the metrics ${answered} answers.`)
      return notes
    },
  }
}
