// Every error code the packages define is documented in docs/errors.md, and the doc lists no stale code. Codes
// are read wherever they are made: the kernel's catalogue, the registry's and the CLI's problem codes, and every quoted
// `RBT_ERR_*` in the sources of every package (createError calls, problem codes, codes compared against).
import { readdir, readFile } from 'node:fs/promises'
import { CLI_PROBLEM_CODES } from '@robutler/cli'
import { errorCatalogue } from '@robutler/kernel'
import { PROBLEM_CODES } from '@robutler/registry'
import { describe, expect, it } from 'vitest'

const root = new URL('..', import.meta.url)
const doc = await readFile(new URL('docs/errors.md', root), 'utf8')
const documented = new Set(doc.match(/RBT_ERR_[A-Z_]+/g))

/** The `src/` folders of every package: kernel, registry, cli (when there is one), each plugin and skill. */
async function sourceFolders(): Promise<URL[]> {
  const folders = ['kernel/src/', 'registry/src/', 'cli/src/'].map((path) => new URL(path, root))
  for (const area of ['plugins', 'skills']) {
    for (const name of await readdir(new URL(`${area}/`, root))) folders.push(new URL(`${area}/${name}/src/`, root))
  }
  return folders
}

/** Codes in quotes in the TypeScript files below `folder`: `createError('RBT_ERR_X', …)`, `code === 'RBT_ERR_Y'`. */
async function quotedCodes(folder: URL): Promise<Array<{ code: string; file: string }>> {
  const entries = await readdir(folder, { recursive: true, withFileTypes: true }).catch(() => [])
  const found: Array<{ code: string; file: string }> = []
  for (const entry of entries) {
    if (!entry.isFile() || !entry.name.endsWith('.ts')) continue
    const path = `${entry.parentPath}/${entry.name}`
    const text = await readFile(path, 'utf8')
    for (const [, code] of text.matchAll(/['"`](RBT_ERR_[A-Z_]+)['"`]/g)) found.push({ code: code!, file: path.slice(root.pathname.length) })
  }
  return found
}

const inSources = (await Promise.all((await sourceFolders()).map(quotedCodes))).flat()
const defined = new Set([
  ...errorCatalogue().keys(),
  ...Object.keys(PROBLEM_CODES),
  ...Object.keys(CLI_PROBLEM_CODES),
  ...inSources.map((found) => found.code),
])

describe('docs/errors.md', () => {
  it('the source scan sees the codes of the kernel, the registry, the CLI and the plugins', () => {
    const files = new Set(inSources.map((found) => found.file.split('/src/')[0]))
    for (const area of ['kernel', 'registry', 'cli', 'plugins/rate-limit', 'plugins/auth-keys']) expect(files).toContain(area)
    expect(inSources.map((found) => found.code)).toContain('RBT_ERR_RATE_LIMITED')
  })

  it.each([...defined])('documents %s', (code) => {
    expect(doc).toContain(`\`${code}\``)
  })

  it('lists no code that no package defines', () => {
    expect([...documented].filter((code) => !defined.has(code))).toEqual([])
  })
})
