// `robutler skills validate [dir]`: what an author runs before `npm publish`. Every problem is listed with its
// code; the exit code is 1 when there is one.
import { resolve } from 'node:path'
import { formatReport, type PackageKind } from '@robutler/registry'
import { checkPackage } from './check-package.js'
import { checkPublishedFiles } from './packed-files.js'
import type { MarketplaceContext } from './types.js'

/** `validate [dir] [--skill-config JSON]`. */
export async function runValidate(kind: PackageKind, folder: string | undefined, skillConfig: Record<string, unknown> | undefined, context: MarketplaceContext): Promise<number> {
  const dir = resolve(context.cwd, folder ?? '.')
  const options = { kind, kernelVersion: context.kernelVersion, env: context.env, strict: true }
  const check = await checkPackage(dir, skillConfig === undefined ? options : { ...options, skillConfig })
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
