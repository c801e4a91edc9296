// `robutler skills validate [dir]`: what an author runs before `npm publish`. Every problem is listed with its
// code; the exit code is 1 when there is one.
import { formatReport, type PackageKind } from '@robutler/registry'
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { inspectInSandbox } from './sandbox.js'
import { checkPublishedFiles } from './packed-files.js'
import type { MarketplaceContext } from './types.js'

/** Examples run too: each may take up to its tool's timeout. */
const VALIDATE_TIMEOUT_MS = 300_000

/** The folder whose node_modules the package's imports resolve from: the nearest one with the kernel, else its own. */
async function dependencyRoot(dir: string): Promise<string> {
  for (let at = dir; ; at = dirname(at)) {
    if (existsSync(join(at, 'node_modules', '@robutler', 'kernel'))) return at
    if (dirname(at) === at) return dir
  }
}

/**
 * The author's own values of the variables the package declares (`robutler.permissions.env`), for its setup and
 * examples: nothing else of the environment is handed to the inspection.
 */
async function declaredEnv(dir: string, env: NodeJS.ProcessEnv): Promise<Record<string, string>> {
  let declared: unknown
  try {
    declared = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8'))?.robutler?.permissions?.env
  } catch {
    // No readable manifest: the inspection reports it; no variable is handed on.
    return {}
  }
  const names = Array.isArray(declared) ? declared.filter((name): name is string => typeof name === 'string') : []
  return Object.fromEntries(names.flatMap((name) => (env[name] === undefined ? [] : [[name, env[name]!]])))
}

/** `validate [dir] [--skill-config JSON]`. */
export async function runValidate(kind: PackageKind, folder: string | undefined, skillConfig: Record<string, unknown> | undefined, context: MarketplaceContext): Promise<number> {
  const dir = resolve(context.cwd, folder ?? '.')
  const options = { kind, kernelVersion: context.kernelVersion, env: await declaredEnv(dir, context.env), strict: true }
  const check = await inspectInSandbox(dir, skillConfig === undefined ? options : { ...options, skillConfig }, { appDir: await dependencyRoot(dir), timeoutMs: VALIDATE_TIMEOUT_MS })
  const problems = [...check.problems]
  if (check.version !== '') problems.push(...(await checkPublishedFiles(dir, check.name, { cwd: dir, env: context.env })))
  if (problems.length > 0) {
    context.stderr(`${formatReport(problems)}\n\nrobutler: ${check.name} has ${problems.length} problem(s)\n`)
    return 1
  }
  const what = kind === 'skill' ? `: ${check.tools} tool(s), ${check.examples} example(s) run` : ''
  context.stdout(`${check.name}@${check.version} is a valid ${kind}${what}\n`)
  return 0
}
