// Writes a throwaway app folder with Robutler packages installed in node_modules, for registry and kernel tests.
// Fixture modules build the brand themselves (Symbol.for) so they never import the kernel.
import { mkdir, mkdtemp, realpath, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'

export interface FixturePackage {
  /** Install name, `@scope/name` or `name`. */
  name: string
  version?: string
  /**
   * Fields of the `robutler` manifest, over the defaults `{ kind: 'plugin', kernel: '^1.0.0', provides: [],
   * requires: [] }`. A field set to undefined is left out. `null` writes no `robutler` field at all.
   */
  manifest?: Record<string, unknown> | null
  /** Source of index.js. Default: a valid definition of the manifest's kind (see `definitionSource`). */
  main?: string
  /** peerDependencies['@robutler/kernel']; default the manifest's kernel range. `null` leaves it out. */
  peerKernel?: string | null
  /** Written to config.schema.json and named by the manifest's `config`. */
  configSchema?: unknown
  /** Extra package.json fields (`exports`, `main`, …), merged over the generated ones. */
  packageJson?: Record<string, unknown>
  /** Extra files, path relative to the package folder → content. */
  files?: Record<string, string>
  /** The whole package.json text, written as is (the other fields but `main`/`files` are then ignored). */
  rawPackageJson?: string
  /** A folder relative to the app root whose node_modules gets this package (default: the root). */
  under?: string
}

export interface FixtureApp {
  /** The app root (realpath of a temp folder). */
  dir: string
  cleanup: () => Promise<void>
}

export interface MakeAppOptions {
  packages: FixturePackage[]
  /**
   * Names of packages written outside node_modules (in `<dir>/workspaces/<name>`) and symlinked into
   * node_modules, as npm workspaces do.
   */
  symlinkFrom?: string[]
}

/** index.js source for a valid plugin or skill definition; `extra` is spliced into the object literal. */
export function definitionSource(kind: 'plugin' | 'skill', name: string, extra = ''): string {
  const body =
    kind === 'plugin'
      ? `register: async () => {}`
      : `name: ${JSON.stringify(name)}, setup: (config) => ({ tools: [] })`
  return [
    `const brand = Symbol.for('robutler.package')`,
    `export default { [brand]: ${JSON.stringify(kind)}, ${body}, fixture: ${JSON.stringify(name)}, ${extra} }`,
    '',
  ].join('\n')
}

function packageJsonText(fixture: FixturePackage): string {
  if (fixture.rawPackageJson !== undefined) return fixture.rawPackageJson
  const json: Record<string, unknown> = { name: fixture.name, version: fixture.version ?? '1.0.0', type: 'module' }
  if (fixture.manifest !== null) {
    const manifest: Record<string, unknown> = { kind: 'plugin', kernel: '^1.0.0', provides: [], requires: [], ...fixture.manifest }
    if (fixture.configSchema !== undefined) manifest.config = './config.schema.json'
    json.keywords = [`robutler-${String(manifest.kind)}`]
    const peer = fixture.peerKernel === undefined ? manifest.kernel : fixture.peerKernel
    if (peer !== null) json.peerDependencies = { '@robutler/kernel': peer }
    json.robutler = manifest
  }
  return JSON.stringify({ ...json, ...fixture.packageJson }, null, 2)
}

async function writePackage(folder: string, fixture: FixturePackage): Promise<void> {
  await mkdir(folder, { recursive: true })
  const kind = fixture.manifest?.kind === 'skill' ? 'skill' : 'plugin'
  const files: Record<string, string> = {
    'package.json': packageJsonText(fixture),
    'index.js': fixture.main ?? definitionSource(kind, fixture.name),
    ...fixture.files,
  }
  if (fixture.configSchema !== undefined) files['config.schema.json'] = JSON.stringify(fixture.configSchema)
  await Promise.all(
    Object.entries(files).map(async ([path, content]) => {
      await mkdir(dirname(join(folder, path)), { recursive: true })
      await writeFile(join(folder, path), content)
    }),
  )
}

/**
 * Makes a temp app folder with the given packages installed.
 *
 * @example
 * const app = await makeApp({ packages: [{ name: '@acme/plugin-x', manifest: { provides: ['llm:x'] } }] })
 * try { … resolvePackages({ appDir: app.dir, … }) … } finally { await app.cleanup() }
 */
export async function makeApp(options: MakeAppOptions): Promise<FixtureApp> {
  const dir = await realpath(await mkdtemp(join(tmpdir(), 'robutler-app-')))
  const linked = new Set(options.symlinkFrom ?? [])
  await Promise.all(
    options.packages.map(async (fixture) => {
      const installed = join(dir, fixture.under ?? '.', 'node_modules', fixture.name)
      if (!linked.has(fixture.name)) return writePackage(installed, fixture)
      const source = join(dir, 'workspaces', fixture.name)
      await writePackage(source, fixture)
      await mkdir(dirname(installed), { recursive: true })
      await symlink(source, installed, 'dir')
    }),
  )
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) }
}
