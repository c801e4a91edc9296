// The error of a server that refuses to start: it carries every problem found, not the first.
import { formatReport, type Problem } from '@robutler/registry'
import { ERR_STARTUP } from './errors.js'

/** A server (or a config file) that cannot start carries every problem found. */
export class StartupError extends Error {
  readonly code = ERR_STARTUP.code
  constructor(readonly problems: Problem[]) {
    super(ERR_STARTUP(formatReport(problems)).message)
    this.name = 'StartupError'
  }
}
