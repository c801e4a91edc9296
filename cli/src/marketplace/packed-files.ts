// Whether what the manifest points at would be in the published tarball: a package whose `files` leaves out its
// dist folder or its config schema installs fine and then fails to load. `npm pack --dry-run` answers it exactly.
import { readFile } from 'node:fs/promises'
import { join, relative, resolve } from 'node:path'
import { resolveEntry, type Problem } from '@robutler/registry'
import { problem } from '../errors.js'
import { npmErrorSummary, parseNpmJson, runNpm, type NpmOptions } from './npm.js'

function packagePath(dir: string, file: string): string {
  return relative(dir, resolve(dir, file)).split('\\').join('/')
}

/** Problems for each of the entry, worker and config schema that `npm pack` would leave out of the package in `dir`. */
export async function checkPublishedFiles(dir: string, name: string, options: NpmOptions): Promise<Problem[]> {
  const json = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as Record<string, any>
  const needed: Array<{ file: string; role: string }> = []
  const entry = await resolveEntry(dir, json)
  if ('file' in entry) needed.push({ file: packagePath(dir, entry.file), role: 'entry module' })
  if (typeof json.robutler?.worker === 'string') needed.push({ file: packagePath(dir, json.robutler.worker), role: 'worker module' })
  if (typeof json.robutler?.config === 'string') needed.push({ file: packagePath(dir, json.robutler.config), role: 'config schema' })
  if (needed.length === 0) return []
  const run = await runNpm(['pack', '--dry-run', '--json', '--ignore-scripts'], options)
  if (run.code !== 0) return [problem('RBT_ERR_MARKETPLACE_NPM_FAILED', name, 'pack --dry-run', npmErrorSummary(run))]
  const packed = parseNpmJson(run.stdout) as Array<{ files?: Array<{ path: string }> }> | undefined
  const files = new Set((packed?.[0]?.files ?? []).map((file) => file.path))
  return needed.filter(({ file }) => !files.has(file)).map(({ file, role }) => problem('RBT_ERR_VALIDATE_FILE_NOT_PUBLISHED', name, file, role))
}
