// `robutler start --workers N`: a node:cluster primary that keeps N serving processes alive and drains them on
// SIGTERM. The primary serves nothing itself; each worker runs the whole server on the shared port.
import cluster, { type Worker } from 'node:cluster'
import type { Logger } from 'pino'
import { relayGathers } from '@robutler/kernel'

export interface PrimaryOptions {
  workers: number
  log: Logger
  /** Seconds a worker gets to drain before it is killed (its own drainTimeout plus a margin). */
  stopTimeoutSeconds: number
}

const FIRST_BACKOFF_MS = 100
const MAX_BACKOFF_MS = 10_000
/** A worker that lived this long is healthy: the next death restarts at the first backoff again. */
const STABLE_AFTER_MS = 10_000

/** Runs the primary until every worker has stopped after SIGTERM/SIGINT; resolves to the exit code. */
export function runPrimary(options: PrimaryOptions): Promise<number> {
  const { log } = options
  let stopping = false
  let backoff = FIRST_BACKOFF_MS
  const started = new Map<Worker, number>()

  const fork = () => {
    const worker = cluster.fork()
    started.set(worker, Date.now())
    worker.once('online', () => log.info({ worker: worker.id, workerPid: worker.process.pid }, 'worker started'))
  }

  return new Promise((resolve) => {
    cluster.on('exit', (worker, code, signal) => {
      const lived = Date.now() - (started.get(worker) ?? Date.now())
      started.delete(worker)
      if (stopping) {
        log.info({ worker: worker.id, workerPid: worker.process.pid, code, signal }, 'worker stopped')
        if (started.size === 0) resolve(0)
        return
      }
      backoff = lived > STABLE_AFTER_MS ? FIRST_BACKOFF_MS : Math.min(backoff * 2, MAX_BACKOFF_MS)
      log.error({ worker: worker.id, workerPid: worker.process.pid, code, signal, restartInMs: backoff }, 'worker died; replacing it')
      setTimeout(() => {
        if (!stopping) fork()
      }, backoff).unref()
    })

    const stop = (signal: NodeJS.Signals) => {
      if (stopping) return
      stopping = true
      log.info({ signal, workers: started.size }, 'draining all workers')
      if (started.size === 0) return resolve(0)
      for (const worker of started.keys()) worker.process.kill('SIGTERM')
      setTimeout(() => {
        for (const worker of started.keys()) {
          log.error({ worker: worker.id, workerPid: worker.process.pid }, 'worker did not drain in time; killing it')
          worker.process.kill('SIGKILL')
        }
        resolve(1)
      }, options.stopTimeoutSeconds * 1000).unref()
    }
    process.on('SIGTERM', stop)
    process.on('SIGINT', stop)

    relayGathers()
    // Each worker accepts its own connections: with round-robin the primary can hand a connection to a worker
    // that is dying, and nobody serves or closes it (nodejs/node#3551; seen in test/reliability/faults.test.ts).
    cluster.schedulingPolicy = cluster.SCHED_NONE
    log.info({ workers: options.workers }, `primary starting ${options.workers} workers`)
    for (let i = 0; i < options.workers; i++) fork()
  })
}
