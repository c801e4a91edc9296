// What npm shows of each workspace package before anyone installs it: a README (the npm page), a bin npm takes
// as written (no "auto-corrected" on publish), and the Node versions it runs on.
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { REPO_ROOT } from './helpers/kernel-app.js'

const root = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { workspaces: string[] }
const folders = root.workspaces.flatMap((pattern) =>
  pattern.endsWith('/*') ? readdirSync(join(REPO_ROOT, pattern.slice(0, -2))).map((name) => `${pattern.slice(0, -2)}/${name}`) : [pattern],
)

describe.each(folders)('%s', (folder) => {
  const json = JSON.parse(readFileSync(join(REPO_ROOT, folder, 'package.json'), 'utf8'))

  it('ships a README that says what it is', () => {
    const readme = join(REPO_ROOT, folder, 'README.md')
    expect(existsSync(readme), `${folder}/README.md`).toBe(true)
    expect(readFileSync(readme, 'utf8').length).toBeGreaterThan(200)
  })

  it('names its bins as npm normalises them, and runs on Node 20', () => {
    for (const path of Object.values<string>(json.bin ?? {})) expect(path).toMatch(/^[^./][^:]*$/)
    if (!json.private) expect(json.engines?.node ?? '>=20.19').toBe('>=20.19')
  })
})
