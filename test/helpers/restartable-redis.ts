// A private redis-server that a fault test can take away and bring back on the same port (the shared Redis is
// never touched). Without persistence: a restarted server is empty, as after a real crash of a cache.
import { spawn, type ChildProcess } from 'node:child_process'
import { createServer } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'

export interface RestartableRedis {
  /** `redis://127.0.0.1:PORT` */
  readonly url: string
  readonly port: number
  readonly running: boolean
  /** Starts redis-server on the port and waits for a PING. */
  start(): Promise<void>
  /** SIGKILL: an outage, not a shutdown. */
  stop(): Promise<void>
}

async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

async function answers(url: string): Promise<boolean> {
  const probe = new Redis(url, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null })
  probe.on('error', () => undefined)
  try {
    await probe.connect()
    await probe.ping()
    return true
  } catch {
    return false // not up yet: the caller polls
  } finally {
    probe.disconnect()
  }
}

/** A redis-server on a free 127.0.0.1 port, started. */
export async function startRestartableRedis(): Promise<RestartableRedis> {
  const port = await freePort()
  const url = `redis://127.0.0.1:${port}`
  let child: ChildProcess | null = null
  let exited: Promise<void> = Promise.resolve()
  const instance: RestartableRedis = {
    url,
    port,
    get running() {
      return child !== null && child.exitCode === null && child.signalCode === null
    },
    async start() {
      if (instance.running) return
      const started = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
      child = started
      let spawnError: Error | null = null
      exited = new Promise<void>((resolve) => {
        started.once('exit', () => resolve())
        started.once('error', (error) => {
          spawnError = error // redis-server is not installed (ENOENT): reported below
          resolve()
        })
      })
      const deadline = Date.now() + 10_000
      while (!(await answers(url))) {
        if (Date.now() > deadline || started.exitCode !== null || spawnError) {
          started.kill('SIGKILL')
          throw new Error(`private redis-server on port ${port} did not start (redis-server must be installed)`, { cause: spawnError ?? undefined })
        }
        await sleep(50)
      }
    },
    async stop() {
      if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
      await exited
    },
  }
  await instance.start()
  return instance
}
