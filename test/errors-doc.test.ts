// Every error code the packages define is documented in docs/errors.md, and the doc lists no stale code.
import { readFile } from 'node:fs/promises'
import { errorCatalogue } from '@robutler/kernel'
import { PROBLEM_CODES } from '@robutler/registry'
import { describe, expect, it } from 'vitest'

const doc = await readFile(new URL('../docs/errors.md', import.meta.url), 'utf8')
const documented = new Set(doc.match(/RBT_ERR_[A-Z_]+/g))
const defined = new Set([...errorCatalogue().keys(), ...Object.keys(PROBLEM_CODES)])

describe('docs/errors.md', () => {
  it.each([...defined])('documents %s', (code) => {
    expect(doc).toContain(`\`${code}\``)
  })

  it('lists no code that no package defines', () => {
    expect([...documented].filter((code) => !defined.has(code))).toEqual([])
  })
})
