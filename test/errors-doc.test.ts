// Every error code the packages define is documented in docs/errors.md, and the doc lists no stale code.
import { readdir, readFile } from 'node:fs/promises'
import { CLI_PROBLEM_CODES } from '@robutler/cli'
import { errorCatalogue } from '@robutler/kernel'
import { PROBLEM_CODES } from '@robutler/registry'
import { describe, expect, it } from 'vitest'

const doc = await readFile(new URL('../docs/errors.md', import.meta.url), 'utf8')
const documented = new Set(doc.match(/RBT_ERR_[A-Z_]+/g))

/** Codes the first-party plugins and skills define in their own errors.ts. */
async function packageCodes(): Promise<string[]> {
  const root = new URL('..', import.meta.url)
  const codes: string[] = []
  for (const area of ['plugins', 'skills']) {
    for (const name of await readdir(new URL(`${area}/`, root))) {
      const file = new URL(`${area}/${name}/src/errors.ts`, root)
      const text = await readFile(file, 'utf8').catch(() => '')
      codes.push(...(text.match(/['"`](RBT_ERR_[A-Z_]+)['"`]/g) ?? []).map((quoted) => quoted.slice(1, -1)))
    }
  }
  return codes
}

const defined = new Set([...errorCatalogue().keys(), ...Object.keys(PROBLEM_CODES), ...Object.keys(CLI_PROBLEM_CODES), ...(await packageCodes())])

describe('docs/errors.md', () => {
  it.each([...defined])('documents %s', (code) => {
    expect(doc).toContain(`\`${code}\``)
  })

  it('lists no code that no package defines', () => {
    expect([...documented].filter((code) => !defined.has(code))).toEqual([])
  })
})
