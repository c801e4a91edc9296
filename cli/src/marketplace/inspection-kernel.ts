// What a skill's setup(config, api) and its tools get when they are checked outside a server (`validate`, and
// the checks after `add`): the kernel's own skill API (makeSkillApi, the same rules a server applies), with no
// server behind it. Whatever a skill registers here goes nowhere.
import { pino } from 'pino'
import { makeSkillApi, type RequestContext, type SkillApi, type ToolRunContext } from '@robutler/kernel'
import type { Permissions } from '@robutler/registry'

export interface InspectionOptions {
  name: string
  version: string
  baseDir: string
  env: NodeJS.ProcessEnv
  /** What the skill declares: it is inspected as if granted, and gets nothing more. */
  permissions: Permissions
}

/** A logger that writes nothing (a tool's logs are not what validate checks). */
function silentLogger(): RequestContext['log'] {
  return pino({ level: 'silent' })
}

/** The skill API for setup(config, api) outside a server. */
export function inspectionKernel(options: InspectionOptions): SkillApi {
  return makeSkillApi({
    skill: options.name,
    agent: 'robutler-validate',
    version: options.version,
    urlPrefix: '',
    baseDir: options.baseDir,
    env: options.env,
    permissions: options.permissions,
    log: silentLogger(),
    // No server to share with: each setup gets a value of its own.
    shared: new Map(),
    addHealthCheck: () => {},
    onClose: () => {},
  })
}

/** The `ctx` an in-process tool's run(args, ctx) gets: a request context of an anonymous admin, no HTTP behind it. */
export function inspectionToolContext(signal: AbortSignal, timeoutMs: number): ToolRunContext {
  const log = silentLogger()
  const context: RequestContext = {
    id: 'robutler-validate',
    identity: null,
    scope: 'admin',
    agent: null,
    surface: 'validate',
    deadline: Date.now() + timeoutMs,
    signal,
    usage: { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 },
    log,
    state: {},
  }
  return { signal, context, log }
}
