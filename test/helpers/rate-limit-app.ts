// Servers with @robutler/plugin-rate-limit linked in, the shared Redis the tests count in, and private Redis
// servers for fault tests (the shared one is never stopped).
import { spawn, type ChildProcess } from 'node:child_process'
import { createServer as createNetServer } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import type { ServerOptions } from '@robutler/kernel'
import { Redis } from 'ioredis'
import { linkedApp, serveApp, type PackageKey, type TestServer } from './test-server.js'

export const RATE_LIMIT_PLUGIN = '@robutler/plugin-rate-limit'

/** Like startServer, with plugin-local, the fixture authenticator, plugin-rate-limit and `packages` installed. */
export async function startLimitedServer(options: ServerOptions, packages: PackageKey[] = []): Promise<TestServer> {
  return serveApp(await linkedApp(['local', 'keys', 'rateLimit', ...packages]), options)
}

export const SHARED_REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379'

/**
 * A client of the shared Redis, or why it cannot be reached. Tests that need it run when it is reachable or when
 * CI=true, and fail (never skip) under CI when it is not.
 */
export async function reachSharedRedis(): Promise<{ client: Redis; unreachable?: undefined } | { client?: undefined; unreachable: Error }> {
  const client = new Redis(SHARED_REDIS_URL, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null })
  client.on('error', () => undefined)
  try {
    await client.connect()
    await client.ping()
    return { client }
  } catch (error) {
    client.disconnect()
    return { unreachable: new Error(`Redis at ${SHARED_REDIS_URL} is unreachable`, { cause: error }) }
  }
}

/** True when Redis tests must run: the shared Redis answered, or CI=true (where they then fail). */
export const mustRunRedisTests = (shared: Awaited<ReturnType<typeof reachSharedRedis>>): boolean =>
  shared.client !== undefined || process.env.CI === 'true'

/** Deletes every key under `prefix` (the tests' own, never anyone else's). */
export async function deleteKeys(client: Redis, prefix: string): Promise<number> {
  let deleted = 0
  let cursor = '0'
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500)
    cursor = next
    if (keys.length > 0) deleted += await client.del(...keys)
  } while (cursor !== '0')
  return deleted
}

async function freePort(): Promise<number> {
  const server = createNetServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

export interface PrivateRedis {
  url: string
  /** Stops this private server (SIGKILL: an outage, not a shutdown). */
  stop: () => Promise<void>
}

/** A redis-server of the test's own on a free port, without persistence, for tests that take Redis away. */
export async function startPrivateRedis(): Promise<PrivateRedis> {
  const port = await freePort()
  const child: ChildProcess = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const url = `redis://127.0.0.1:${port}`
  const probe = new Redis(url, { lazyConnect: true, enableOfflineQueue: false, retryStrategy: () => null })
  probe.on('error', () => undefined)
  const deadline = Date.now() + 5_000
  for (;;) {
    try {
      await probe.connect()
      await probe.ping()
      break
    } catch (error) {
      if (Date.now() > deadline || child.exitCode !== null) {
        child.kill('SIGKILL')
        throw new Error(`private redis-server on port ${port} did not start`, { cause: error })
      }
      await sleep(50)
    }
  }
  probe.disconnect()
  return {
    url,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGKILL')
      await exited
    },
  }
}
