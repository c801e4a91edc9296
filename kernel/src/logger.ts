// One pino logger per server: JSON lines, written asynchronously, secrets redacted.
import { pino, type DestinationStream, type Logger } from 'pino'

/** Header and config paths whose values never reach a log line. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers.cookie',
  'headers.authorization',
  'headers["x-api-key"]',
  'apiKey',
  '*.apiKey',
  '*.*.apiKey',
  'key',
  '*.key',
  'token',
  '*.token',
  'password',
  '*.password',
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
      timestamp: pino.stdTimeFunctions.isoTime,
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
