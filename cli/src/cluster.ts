// `robutler start --workers N`: a node:cluster primary that keeps N serving processes alive and drains them on
// SIGTERM. The primary serves nothing itself; each worker runs the whole server on the shared port.
// A worker that dies before it ever listened failed to boot: at startup the primary stops at once (every worker
// would fail the same way: a port in use, a database that refuses) and exits 1 with the worker's report, printed
// once; a replacement that fails to boot is retried with backoff a few times, then the primary gives up the same way.
import cluster, { type Worker } from 'node:cluster'
import type { Logger } from 'pino'
import { formatReport } from '@robutler/registry'
import { relayGathers } from '@robutler/kernel'
import { problem } from './errors.js'

export interface PrimaryOptions {
  workers: number
  log: Logger
  /** Seconds a worker gets to drain before it is killed (its own drainTimeout plus a margin). */
  stopTimeoutSeconds: number
  /** Where the report of workers that cannot start goes (default: stderr). */
  stderr?: (text: string) => void
}

const FIRST_BACKOFF_MS = 100
const MAX_BACKOFF_MS = 10_000
/** A worker that lived this long is healthy: the next death restarts at the first backoff again. */
const STABLE_AFTER_MS = 10_000
/** Replacements in a row that die before listening, after which the primary stops replacing them. */
const MAX_FAILED_RESTARTS = 5

/** The IPC message a worker sends its primary when it cannot start. */
interface BootFailure {
  robutler: 'boot-failed'
  report: string
}

function isBootFailure(message: unknown): message is BootFailure {
  return typeof message === 'object' && message !== null && (message as BootFailure).robutler === 'boot-failed' && typeof (message as BootFailure).report === 'string'
}

/**
 * In a worker: tells the primary why this process cannot start (the report the single-process form prints), so
 * the primary prints it once for all workers; then exits with `code`. Answers false outside a worker.
 */
export function reportBootFailure(report: string, code: number): boolean {
  if (!cluster.isWorker || !process.send) return false
  process.send({ robutler: 'boot-failed', report } satisfies BootFailure, () => process.exit(code))
  return true
}

/** Runs the primary until every worker has stopped after SIGTERM/SIGINT; resolves to the exit code. */
export function runPrimary(options: PrimaryOptions): Promise<number> {
  const { log } = options
  const stderr = options.stderr ?? ((text: string) => void process.stderr.write(text))
  let stopping = false
  let backoff = FIRST_BACKOFF_MS
  let everListened = false
  let failedRestarts = 0
  let lastReport: string | null = null
  const started = new Map<Worker, number>()
  const listened = new Set<Worker>()

  const fork = () => {
    const worker = cluster.fork()
    started.set(worker, Date.now())
    worker.once('online', () => log.info({ worker: worker.id, workerPid: worker.process.pid }, 'worker started'))
    worker.on('message', (message: unknown) => {
      if (isBootFailure(message)) lastReport = message.report
    })
  }

  return new Promise((resolve) => {
    let exitCode = 0
    const stopAll = (signal: NodeJS.Signals | null, code: number) => {
      if (stopping) return
      stopping = true
      exitCode = code
      if (signal) log.info({ signal, workers: started.size }, 'draining all workers')
      if (started.size === 0) return resolve(exitCode)
      for (const worker of started.keys()) worker.process.kill('SIGTERM')
      setTimeout(() => {
        for (const worker of started.keys()) {
          log.error({ worker: worker.id, workerPid: worker.process.pid }, 'worker did not drain in time; killing it')
          worker.process.kill('SIGKILL')
        }
        resolve(1)
      }, options.stopTimeoutSeconds * 1000).unref()
    }

    const giveUp = (worker: Worker, code: number | null, signal: string | null) => {
      const how = signal !== null ? `signal ${signal}` : `code ${code}`
      const detail = `worker ${worker.id} exited (${how}) before it listened${everListened ? `, after ${failedRestarts} replacement(s) in a row did the same` : ''}`
      log.error({ worker: worker.id, workerPid: worker.process.pid, code, signal }, `${detail}; stopping`)
      stderr(`${lastReport ?? ''}${formatReport([problem('RBT_ERR_CLI_WORKERS_FAILED', detail)])}\n`)
      stopAll(null, 1)
    }

    cluster.on('listening', (worker) => {
      listened.add(worker)
      everListened = true
      failedRestarts = 0
    })

    cluster.on('exit', (worker, code, signal) => {
      const lived = Date.now() - (started.get(worker) ?? Date.now())
      const didListen = listened.delete(worker)
      started.delete(worker)
      if (stopping) {
        log.info({ worker: worker.id, workerPid: worker.process.pid, code, signal }, 'worker stopped')
        if (started.size === 0) {
          log.info({ code: exitCode }, exitCode === 0 ? 'drain complete: every worker stopped; exiting' : 'every worker stopped; exiting')
          resolve(exitCode)
        }
        return
      }
      if (!didListen) {
        if (!everListened) return giveUp(worker, code, signal)
        failedRestarts++
        if (failedRestarts >= MAX_FAILED_RESTARTS) return giveUp(worker, code, signal)
      }
      backoff = lived > STABLE_AFTER_MS ? FIRST_BACKOFF_MS : Math.min(backoff * 2, MAX_BACKOFF_MS)
      log.error({ worker: worker.id, workerPid: worker.process.pid, code, signal, restartInMs: backoff }, 'worker died; replacing it')
      setTimeout(() => {
        if (!stopping) fork()
      }, backoff).unref()
    })

    const stop = (signal: NodeJS.Signals) => stopAll(signal, 0)
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
