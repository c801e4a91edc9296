// Which file `import('<package>')` would load, read from the package's own package.json. We resolve it
// ourselves because the package may live in an ancestor's node_modules or behind a workspace symlink, where
// import() from this file would not find it by name.
import { stat } from 'node:fs/promises'
import { resolve } from 'node:path'

/** The conditions Node applies to `import()`, in the order a package lists them. */
const CONDITIONS = new Set(['import', 'node', 'default'])

/** A target from `exports`: a string, a conditions object (possibly nested), or a fallback array. */
function pickTarget(target: unknown): string | null {
  if (typeof target === 'string') return target
  if (Array.isArray(target)) {
    for (const option of target) {
      const picked = pickTarget(option)
      if (picked !== null) return picked
    }
    return null
  }
  if (typeof target === 'object' && target !== null) {
    for (const [condition, value] of Object.entries(target)) {
      if (!CONDITIONS.has(condition)) continue
      const picked = pickTarget(value)
      if (picked !== null) return picked
    }
  }
  return null
}

/** The `.` export: `exports` as a string, `exports['.']`, or `exports` itself when its keys are conditions. */
function rootExport(exports: unknown): string | null {
  if (typeof exports === 'string' || Array.isArray(exports)) return pickTarget(exports)
  if (typeof exports !== 'object' || exports === null) return null
  const keys = Object.keys(exports)
  if (keys.some((key) => key.startsWith('.'))) return pickTarget((exports as Record<string, unknown>)['.'])
  return pickTarget(exports)
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile()
  } catch {
    // Absent is an answer here; the caller reports the entry it could not find.
    return false
  }
}

/**
 * The absolute path of a package's main module: `exports` (string, `.` or conditions with `import`/`node`/
 * `default`), else `main` (with Node's legacy `.js` and `/index.js` tries), else `index.js`.
 * Answers an error message when no such file exists.
 */
export async function resolveEntry(dir: string, packageJson: Record<string, any>): Promise<{ file: string } | { error: string }> {
  if (packageJson.exports !== undefined && packageJson.exports !== null) {
    const target = rootExport(packageJson.exports)
    if (target === null) return { error: 'its package.json `exports` has no "." entry for import' }
    const file = resolve(dir, target)
    return (await isFile(file)) ? { file } : { error: `its entry ${target} does not exist (is the package built?)` }
  }
  const main = typeof packageJson.main === 'string' && packageJson.main !== '' ? packageJson.main : null
  const tries = main ? [main, `${main}.js`, `${main}/index.js`] : ['index.js']
  for (const candidate of tries) {
    const file = resolve(dir, candidate)
    if (await isFile(file)) return { file }
  }
  return { error: `its entry ${main ?? 'index.js'} does not exist (is the package built?)` }
}
