// Which app a kernel server serves, and with which kernel: the app folder's node_modules give both its packages and
// @robutler/kernel, so a server started for another checkout of this repo runs that checkout's kernel and plugins
// (bench/compare.mjs) while the server script itself is this tree's.
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** This repo's root: the app of the bench servers unless told otherwise. */
export const REPO_DIR = fileURLToPath(new URL('../..', import.meta.url))

/** The file that `import '@robutler/kernel'` loads in the app at `appDir` (the "." export's `import` target). */
export function kernelEntry(appDir) {
  const require = createRequire(join(appDir, 'package.json'))
  const manifestFile = require.resolve('@robutler/kernel/package.json')
  const entry = JSON.parse(readFileSync(manifestFile, 'utf8')).exports?.['.']
  const target = typeof entry === 'string' ? entry : entry?.import
  if (typeof target !== 'string') throw new Error(`${manifestFile}: no "." export for import`)
  return join(dirname(manifestFile), target)
}
