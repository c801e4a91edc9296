// @robutler/registry through its public entry: discovery, planning, loading and the report they make.
import { mkdir, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import {
  PACKAGE_BRAND,
  PROBLEM_CODES,
  discoverPackages,
  formatReport,
  isBranded,
  resolvePackages,
  validateManifest,
  type LoadReport,
  type Problem,
  type Selection,
} from '@robutler/registry'
import { definitionSource, makeApp, type FixtureApp, type FixturePackage } from './helpers/fixture-app.js'

const apps: FixtureApp[] = []

afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.cleanup()))
})

async function app(packages: FixturePackage[], symlinkFrom?: string[]): Promise<string> {
  const made = await makeApp({ packages, symlinkFrom })
  apps.push(made)
  return made.dir
}

function selection(parts: Partial<Selection> = {}): Selection {
  return { plugins: {}, skills: {}, ...parts }
}

async function resolveIn(appDir: string, parts: Partial<Selection>, kernelVersion = '1.0.0'): Promise<LoadReport> {
  return resolvePackages({ appDir, kernelVersion, selection: selection(parts) })
}

function names(report: LoadReport): string[] {
  return report.packages.map((loaded) => loaded.name)
}

function only(problems: Problem[], code: string): Problem {
  const matching = problems.filter((entry) => entry.code === code)
  expect(matching, formatReport(problems)).toHaveLength(1)
  return matching[0]!
}

const weatherSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    units: { enum: ['metric', 'imperial'], default: 'metric' },
    retries: { type: 'integer', minimum: 0, default: 2 },
    endpoint: { type: 'string', format: 'uri' },
  },
}

describe('enablement', () => {
  it('loads only the installed packages the config enables', async () => {
    const dir = await app([
      { name: '@acme/plugin-used' },
      { name: '@acme/plugin-idle', main: `throw new Error('an idle package must not be imported')` },
    ])
    const report = await resolveIn(dir, { plugins: { '@acme/plugin-used': {} } })
    expect(report.problems).toEqual([])
    expect(names(report)).toEqual(['@acme/plugin-used'])
    expect(report.discovered.map((found) => found.name)).toEqual(['@acme/plugin-idle', '@acme/plugin-used'])
  })

  it('loads an enabled skill with its config, defaults applied, and keeps its validator', async () => {
    const dir = await app([{ name: '@acme/skill-weather', manifest: { kind: 'skill' }, configSchema: weatherSchema }])
    const section = { retries: 5 }
    const report = await resolveIn(dir, { skills: { '@acme/skill-weather': section } })
    expect(report.problems).toEqual([])
    const [weather] = report.packages
    expect(weather).toMatchObject({ name: '@acme/skill-weather', version: '1.0.0', kind: 'skill', dir: join(dir, 'node_modules/@acme/skill-weather') })
    expect(weather!.config).toEqual({ units: 'metric', retries: 5 })
    expect(section).toEqual({ retries: 5 })
    expect(isBranded(weather!.definition, 'skill')).toBe(true)
    expect(weather!.definition[PACKAGE_BRAND]).toBe('skill')
    expect(weather!.workerPath).toBeNull()

    expect(weather!.validateConfig({ units: 'imperial' })).toEqual({ ok: true, value: { units: 'imperial', retries: 2 } })
    const refused = weather!.validateConfig({ units: 'kelvin', endpoint: 'not a uri' })
    expect(refused.ok).toBe(false)
    expect(!refused.ok && refused.message).toContain('config.units must be one of metric, imperial')
    expect(!refused.ok && refused.message).toContain('config.endpoint must match format "uri"')
  })

  it('enables an installed package that provides a capability the config uses', async () => {
    const dir = await app([
      { name: '@robutler/plugin-openai', manifest: { provides: ['llm:openai'] } },
      { name: '@robutler/plugin-anthropic', manifest: { provides: ['llm:anthropic'] } },
    ])
    const report = await resolveIn(dir, { capabilities: ['llm:openai', 'llm:nobody'] })
    expect(report.problems).toEqual([])
    expect(names(report)).toEqual(['@robutler/plugin-openai'])
  })

  it('does not enable a second provider of a capability when the config names one', async () => {
    const dir = await app([
      { name: '@robutler/plugin-openai', manifest: { provides: ['llm:openai'] } },
      { name: '@acme/plugin-openai-azure', manifest: { provides: ['llm:openai'] } },
    ])
    const report = await resolveIn(dir, { plugins: { '@acme/plugin-openai-azure': {} }, capabilities: ['llm:openai'] })
    expect(report.problems).toEqual([])
    expect(names(report)).toEqual(['@acme/plugin-openai-azure'])
  })

  it('enables a package an environment variable asks for', async () => {
    const dir = await app([{ name: '@robutler/plugin-prometheus' }])
    const report = await resolveIn(dir, { fromEnvironment: { 'PROMETHEUS_ENABLED=true': '@robutler/plugin-prometheus' } })
    expect(report.problems).toEqual([])
    expect(names(report)).toEqual(['@robutler/plugin-prometheus'])
  })

  it('answers the exact npm install line for a named package that is not installed', async () => {
    const dir = await app([])
    const report = await resolveIn(dir, {
      plugins: { '@robutler/plugin-openai': {} },
      skills: { '@acme/skill-weather': {} },
      fromEnvironment: { 'PROMETHEUS_ENABLED=true': '@robutler/plugin-prometheus' },
    })
    expect(report.problems.map((entry) => [entry.code, entry.package, entry.hint])).toEqual([
      ['RBT_ERR_PACKAGE_NOT_INSTALLED', '@robutler/plugin-openai', 'npm install @robutler/plugin-openai'],
      ['RBT_ERR_PACKAGE_NOT_INSTALLED', '@acme/skill-weather', 'npm install @acme/skill-weather'],
      ['RBT_ERR_PACKAGE_NOT_INSTALLED', '@robutler/plugin-prometheus', 'npm install @robutler/plugin-prometheus'],
    ])
    expect(report.problems[0]!.message).toContain('`plugins` section')
    expect(report.problems[1]!.message).toContain('`skills` section')
    expect(report.problems[2]!.message).toBe(`PROMETHEUS_ENABLED=true needs @robutler/plugin-prometheus, which is not installed in ${dir} (nor in a parent folder's node_modules)`)
  })
})

describe('discovery', () => {
  it('finds scoped, symlinked and ancestor installs; the nearest install of a name wins', async () => {
    const dir = await app(
      [
        { name: '@acme/plugin-scoped' },
        { name: 'robutler-skill-linked', manifest: { kind: 'skill' } },
        { name: 'robutler-plugin-shadowed', version: '1.0.0' },
        { name: 'robutler-plugin-shadowed', version: '2.0.0', under: 'apps/web' },
        { name: 'robutler-plugin-ancestor' },
        { name: 'left-pad', manifest: null },
        {
          name: 'robutler-plugin-outer',
          files: { 'node_modules/robutler-plugin-nested/package.json': JSON.stringify({ name: 'robutler-plugin-nested', robutler: { kind: 'plugin', kernel: '^1.0.0' } }) },
        },
      ],
      ['robutler-skill-linked'],
    )
    const { packages, problems } = await discoverPackages(join(dir, 'apps/web'))
    expect(problems).toEqual([])
    const found = Object.fromEntries(packages.map((entry) => [entry.name, entry]))
    expect(Object.keys(found)).toEqual([
      '@acme/plugin-scoped',
      'robutler-plugin-ancestor',
      'robutler-plugin-outer',
      'robutler-plugin-shadowed',
      'robutler-skill-linked',
    ])
    expect(found['robutler-plugin-shadowed']!.version).toBe('2.0.0')
    expect(found['robutler-plugin-shadowed']!.dir).toBe(join(dir, 'apps/web/node_modules/robutler-plugin-shadowed'))
    expect(found['robutler-skill-linked']!.dir).toBe(join(dir, 'workspaces/robutler-skill-linked'))
    expect(found['robutler-skill-linked']!.manifest).toEqual({ kind: 'skill', kernel: '^1.0.0', provides: [], requires: [], permissions: { env: [], network: [], kernel: [] } })
    expect(found['@acme/plugin-scoped']!.packageJson.name).toBe('@acme/plugin-scoped')
  })

  it('loads a symlinked workspace package through its real path', async () => {
    const dir = await app([{ name: '@acme/skill-linked', manifest: { kind: 'skill' } }], ['@acme/skill-linked'])
    const report = await resolveIn(dir, { skills: { '@acme/skill-linked': {} } })
    expect(report.problems).toEqual([])
    expect(report.packages[0]!.dir).toBe(join(dir, 'workspaces/@acme/skill-linked'))
    expect(report.packages[0]!.definition.name).toBe('@acme/skill-linked')
  })

  it('skips a package.json that is not JSON unless it mentions robutler', async () => {
    const dir = await app([
      { name: 'broken-unrelated', rawPackageJson: '{ "name": "broken-unrelated", oops' },
      { name: 'robutler-plugin-broken', rawPackageJson: '{ "name": "robutler-plugin-broken", "robutler": { oops' },
    ])
    const { packages, problems } = await discoverPackages(dir)
    expect(packages.map((entry) => entry.name)).toEqual(['robutler-plugin-broken'])
    expect(problems.map((entry) => [entry.code, entry.package])).toEqual([['RBT_ERR_MANIFEST_INVALID', 'robutler-plugin-broken']])
    expect(problems[0]!.message).toContain('package.json is not valid JSON')
  })

  it('ignores dangling symlinks and stray files in node_modules', async () => {
    const dir = await app([{ name: 'robutler-plugin-real' }])
    await symlink(join(dir, 'nowhere'), join(dir, 'node_modules/robutler-plugin-dangling'))
    await writeFile(join(dir, 'node_modules/.package-lock.json'), '{}')
    await writeFile(join(dir, 'node_modules/stray-file'), 'robutler')
    await mkdir(join(dir, 'node_modules/@empty-scope'))
    const { packages, problems } = await discoverPackages(dir)
    expect(problems).toEqual([])
    expect(packages.map((entry) => entry.name)).toEqual(['robutler-plugin-real'])
  })

  it('discovers the Robutler packages among 1,000 installs', async () => {
    const fixtures: FixturePackage[] = Array.from({ length: 1000 }, (_, i) => {
      const name = i % 3 === 0 ? `@scope${i % 7}/pkg-${i}` : `pkg-${i}`
      return i % 2 === 0 ? { name, manifest: { provides: [`cap:n${i}`] } } : { name, manifest: null }
    })
    const dir = await app(fixtures)
    const { packages, problems } = await discoverPackages(dir)
    expect(problems).toEqual([])
    const expected = fixtures.filter((_, i) => i % 2 === 0).map((fixture) => fixture.name).sort()
    expect(packages.map((entry) => entry.name)).toEqual(expected)
    expect(packages.every((entry) => entry.manifest?.provides.length === 1)).toBe(true)
  })

  it('keeps a broken manifest nobody enables out of the load report', async () => {
    const dir = await app([{ name: 'robutler-plugin-ok' }, { name: 'robutler-plugin-bad', manifest: { kind: 'widget' } }])
    const report = await resolveIn(dir, { plugins: { 'robutler-plugin-ok': {} } })
    expect(report.problems).toEqual([])
    expect(names(report)).toEqual(['robutler-plugin-ok'])
    const bad = report.discovered.find((found) => found.name === 'robutler-plugin-bad')!
    expect(bad.manifest).toBeNull()
    expect(bad.problems.map((entry) => entry.code)).toEqual(['RBT_ERR_MANIFEST_INVALID'])
  })
})

describe('manifest', () => {
  it('names the invalid field of an enabled package', async () => {
    const dir = await app([{ name: '@acme/plugin-odd', manifest: { kind: 'widget' } }])
    const report = await resolveIn(dir, { plugins: { '@acme/plugin-odd': {} } })
    const invalid = only(report.problems, 'RBT_ERR_MANIFEST_INVALID')
    expect(invalid.package).toBe('@acme/plugin-odd')
    expect(invalid.message).toContain('robutler.kind must be one of plugin, skill')
    expect(report.packages).toEqual([])
  })

  it('checks what the schema cannot: semver range, peer range, worker on plugins, capability names', () => {
    const base = { name: '@x/y', peerDependencies: { '@robutler/kernel': '^1.0.0' } }
    const messages = (json: Record<string, any>): string[] => {
      const result = validateManifest(json)
      return (result.problems ?? []).map((entry) => `${entry.code} ${entry.message}`)
    }
    expect(validateManifest({ ...base, robutler: { kind: 'plugin', kernel: '^1.0.0' } })).toEqual({
      manifest: { kind: 'plugin', kernel: '^1.0.0', provides: [], requires: [], permissions: { env: [], network: [], kernel: [] } },
    })
    expect(messages({ ...base, peerDependencies: { '@robutler/kernel': 'banana' }, robutler: { kind: 'plugin', kernel: 'banana' } })).toEqual([
      'RBT_ERR_MANIFEST_INVALID @x/y has an invalid manifest: robutler.kernel must be a semver range (as ^1.0.0), got "banana"',
    ])
    expect(messages({ ...base, robutler: { kind: 'plugin', kernel: '^2.0.0' } })).toEqual([
      "RBT_ERR_PEER_RANGE_MISMATCH @x/y declares robutler.kernel ^2.0.0 but peerDependencies['@robutler/kernel'] is ^1.0.0",
    ])
    expect(messages({ name: '@x/y', robutler: { kind: 'plugin', kernel: '^1.0.0' } })[0]).toContain("has no peerDependencies['@robutler/kernel']")
    expect(messages({ ...base, robutler: { kind: 'plugin', kernel: '^1.0.0', worker: './w.js' } })).toEqual([
      'RBT_ERR_MANIFEST_INVALID @x/y has an invalid manifest: robutler.worker is only for skills, and @x/y is a plugin',
    ])
    const shape = messages({ ...base, robutler: { kind: 'plugin', kernel: '^1.0.0', provides: ['openai'], require: [] } })
    expect(shape).toContain('RBT_ERR_MANIFEST_INVALID @x/y has an invalid manifest: robutler.provides[0] must look like area:name (as llm:openai), got "openai"')
    expect(shape).toContain("RBT_ERR_MANIFEST_INVALID @x/y has an invalid manifest: robutler.require is not a known field (did you mean 'requires'?)")
    expect(messages({ ...base, robutler: { kernel: '^1.0.0' } })).toEqual(['RBT_ERR_MANIFEST_INVALID @x/y has an invalid manifest: robutler.kind is required'])
  })

  it('takes a skill’s permissions, refuses unknown ones, and keeps worker and config paths inside the package', () => {
    const base = { name: '@x/skill-y', peerDependencies: { '@robutler/kernel': '^1.0.0' } }
    const skill = (fields: Record<string, unknown>) => validateManifest({ ...base, robutler: { kind: 'skill', kernel: '^1.0.0', ...fields } })
    const messages = (fields: Record<string, unknown>) => (skill(fields).problems ?? []).map((entry) => entry.message.replace('@x/skill-y has an invalid manifest: ', ''))
    expect(skill({ permissions: { env: ['WEATHER_KEY'], network: ['api.weather.example', '*.cdn.example:443'], kernel: ['health'] } }).manifest?.permissions).toEqual({
      env: ['WEATHER_KEY'],
      network: ['api.weather.example', '*.cdn.example:443'],
      kernel: ['health'],
    })
    expect(messages({ permissions: { env: ['OK'], filesystem: ['/'] } })).toEqual(["robutler.permissions.filesystem is not a known field"])
    expect(messages({ permissions: { kernel: ['http'] } })[0]).toContain('robutler.permissions.kernel[0] must be one of access, health')
    expect(messages({ permissions: { env: ['NOT-A-NAME'] } })[0]).toContain('robutler.permissions.env[0]')
    expect(messages({ worker: '../../../evil.js' })).toEqual([
      'robutler.worker must stay inside the package, and "../../../evil.js" does not: it leaves the package folder (..)',
    ])
    expect(messages({ config: '/etc/passwd' })).toEqual(['robutler.config must stay inside the package, and "/etc/passwd" does not: it is absolute'])
    expect(messages({ worker: './dist/../dist/worker.js', config: 'config.schema.json' })).toEqual([])
    expect(
      (validateManifest({ name: '@x/p', peerDependencies: { '@robutler/kernel': '^1.0.0' }, robutler: { kind: 'plugin', kernel: '^1.0.0', permissions: { env: ['A'] } } }).problems ?? [])[0]?.message,
    ).toContain('robutler.permissions is only for skills')
  })
})

describe('compatibility and order', () => {
  it('names both versions when the kernel does not satisfy the range', async () => {
    const dir = await app([
      { name: '@x/y', manifest: { kernel: '^9.0.0' } },
      { name: '@x/skill-old', manifest: { kind: 'skill', kernel: '^0.3.0' } },
    ])
    const report = await resolveIn(dir, { plugins: { '@x/y': {} }, skills: { '@x/skill-old': {} } })
    expect(report.problems.map((entry) => [entry.code, entry.package, entry.message])).toEqual([
      ['RBT_ERR_PLUGIN_VERSION_MISMATCH', '@x/skill-old', '@x/skill-old requires kernel ^0.3.0 but the running kernel is 1.0.0'],
      ['RBT_ERR_PLUGIN_VERSION_MISMATCH', '@x/y', '@x/y requires kernel ^9.0.0 but the running kernel is 1.0.0'],
    ])
    expect(report.packages).toEqual([])
  })

  it('accepts a prerelease kernel inside the range', async () => {
    const dir = await app([{ name: '@x/y', manifest: { kernel: '^1.0.0' } }])
    const report = await resolveIn(dir, { plugins: { '@x/y': {} } }, '1.2.0-beta.1')
    expect(report.problems).toEqual([])
    expect(names(report)).toEqual(['@x/y'])
  })

  it('reports a skill listed under plugins', async () => {
    const dir = await app([{ name: '@acme/skill-weather', manifest: { kind: 'skill' } }])
    const report = await resolveIn(dir, { plugins: { '@acme/skill-weather': {} } })
    const mismatch = only(report.problems, 'RBT_ERR_PACKAGE_KIND_MISMATCH')
    expect(mismatch.message).toBe('@acme/skill-weather is a skill but the config lists it under `plugins`')
    expect(mismatch.hint).toContain('`skills` section')
  })

  it('names the missing capability and who requires it, with a hint at who could provide it', async () => {
    const dir = await app([
      { name: '@acme/plugin-app', manifest: { requires: ['db:postgres', 'llm:openai', 'auth:keys'] } },
      { name: '@robutler/plugin-auth-keys', manifest: { provides: ['auth:keys'] } },
    ])
    const report = await resolveIn(dir, { plugins: { '@acme/plugin-app': {} } })
    expect(report.problems.map((entry) => [entry.code, entry.package, entry.message])).toEqual([
      ['RBT_ERR_REQUIRES_MISSING', '@acme/plugin-app', '@acme/plugin-app requires db:postgres, which no enabled package provides'],
      ['RBT_ERR_REQUIRES_MISSING', '@acme/plugin-app', '@acme/plugin-app requires llm:openai, which no enabled package provides'],
      ['RBT_ERR_REQUIRES_MISSING', '@acme/plugin-app', '@acme/plugin-app requires auth:keys, which no enabled package provides'],
    ])
    expect(report.problems[1]!.hint).toContain('@robutler/plugin-openai would provide llm:openai: npm install @robutler/plugin-openai')
    expect(report.problems[2]!.hint).toContain('@robutler/plugin-auth-keys is installed and provides auth:keys')
    expect(report.packages).toEqual([])
  })

  it('names a dependency cycle and still loads what is outside it', async () => {
    const dir = await app([
      { name: 'pkg-a', manifest: { provides: ['cap:a'], requires: ['cap:b'] } },
      { name: 'pkg-b', manifest: { provides: ['cap:b'], requires: ['cap:a'] } },
      { name: 'pkg-c', manifest: { provides: ['cap:c'] } },
    ])
    const report = await resolveIn(dir, { plugins: { 'pkg-a': {}, 'pkg-b': {}, 'pkg-c': {} } })
    const cycle = only(report.problems, 'RBT_ERR_DEPENDENCY_CYCLE')
    expect(cycle.message).toContain('pkg-a → pkg-b → pkg-a')
    expect(report.problems).toHaveLength(1)
    expect(names(report)).toEqual(['pkg-c'])
  })

  it('boots each package after what it requires, ties broken by name', async () => {
    const dir = await app([
      { name: 'a-app', manifest: { requires: ['db:main', 'cache:main'] } },
      { name: 'm-cache', manifest: { provides: ['cache:main'], requires: ['db:main'] } },
      { name: 'z-db', manifest: { provides: ['db:main'] } },
      { name: 'b-free' },
      { name: 'y-free' },
      { name: 'c-self', manifest: { provides: ['self:x'], requires: ['self:x'] } },
    ])
    const all = Object.fromEntries(['a-app', 'm-cache', 'z-db', 'b-free', 'y-free', 'c-self'].map((name) => [name, {}]))
    const report = await resolveIn(dir, { plugins: all })
    expect(report.problems).toEqual([])
    expect(names(report)).toEqual(['b-free', 'c-self', 'y-free', 'z-db', 'm-cache', 'a-app'])
  })
})

describe('config sections', () => {
  it('names the package and the failing path when a section fails its schema', async () => {
    const dir = await app([{ name: '@acme/skill-weather', manifest: { kind: 'skill' }, configSchema: weatherSchema }])
    const report = await resolveIn(dir, { skills: { '@acme/skill-weather': { units: 'kelvin', colour: 'red' } } })
    const invalid = only(report.problems, 'RBT_ERR_PACKAGE_CONFIG_INVALID')
    expect(invalid.package).toBe('@acme/skill-weather')
    expect(invalid.message).toContain('the config of @acme/skill-weather is invalid')
    expect(invalid.message).toContain('config.units must be one of metric, imperial')
    expect(invalid.message).toContain('config.colour is not a known field')
    expect(report.packages).toEqual([])
  })

  it('reports a config schema file that is missing or does not compile', async () => {
    const dir = await app([
      { name: 'pkg-missing-schema', manifest: { config: './nope.schema.json' } },
      { name: 'pkg-bad-schema', configSchema: { type: 'frobnicate' } },
    ])
    const report = await resolveIn(dir, { plugins: { 'pkg-missing-schema': {}, 'pkg-bad-schema': {} } })
    expect(report.problems.map((entry) => [entry.code, entry.package])).toEqual([
      ['RBT_ERR_CONFIG_SCHEMA_INVALID', 'pkg-bad-schema'],
      ['RBT_ERR_CONFIG_SCHEMA_INVALID', 'pkg-missing-schema'],
    ])
    expect(report.problems[1]!.message).toContain('./nope.schema.json')
    expect(report.problems[1]!.message).toContain('does not exist')
  })

  it('accepts any section for a package without a config schema', async () => {
    const dir = await app([{ name: 'pkg-free' }])
    const report = await resolveIn(dir, { plugins: { 'pkg-free': { anything: [1, 2] } } })
    expect(report.problems).toEqual([])
    expect(report.packages[0]!.config).toEqual({ anything: [1, 2] })
  })
})

describe('loading', () => {
  it('reports a default export that is not a definition of the manifest kind', async () => {
    const dir = await app([
      { name: 'pkg-function', main: 'export default function register() {}' },
      { name: 'pkg-none', main: 'export const plugin = {}' },
      { name: 'pkg-skill-as-plugin', main: definitionSource('skill', 'pkg-skill-as-plugin') },
      { name: 'pkg-no-register', main: `export default { [Symbol.for('robutler.package')]: 'plugin' }` },
    ])
    const report = await resolveIn(dir, {
      plugins: { 'pkg-function': {}, 'pkg-none': {}, 'pkg-skill-as-plugin': {}, 'pkg-no-register': {} },
    })
    expect(report.problems.map((entry) => [entry.code, entry.message])).toEqual([
      ['RBT_ERR_PACKAGE_EXPORT_INVALID', "pkg-function's default export is a function, not a plugin made by definePlugin"],
      ['RBT_ERR_PACKAGE_EXPORT_INVALID', "pkg-no-register's default export is a plugin without a register function, not a plugin made by definePlugin"],
      ['RBT_ERR_PACKAGE_EXPORT_INVALID', "pkg-none's default export is undefined, not a plugin made by definePlugin"],
      ['RBT_ERR_PACKAGE_EXPORT_INVALID', "pkg-skill-as-plugin's default export is a skill, not a plugin made by definePlugin"],
    ])
    expect(report.packages).toEqual([])
  })

  it('reports an import that throws with its message, not its stack', async () => {
    const dir = await app([{ name: 'pkg-throws', main: `throw new Error('boom while importing')` }])
    const report = await resolveIn(dir, { plugins: { 'pkg-throws': {} } })
    const failed = only(report.problems, 'RBT_ERR_PACKAGE_LOAD_FAILED')
    expect(failed.message).toBe('pkg-throws failed to load: boom while importing')
    expect(failed.cause).toBeInstanceOf(Error)
    expect(formatReport(report.problems)).not.toContain('index.js:')
  })

  it('resolves the entry from exports conditions, main, or index.js', async () => {
    const dir = await app([
      {
        name: 'pkg-exports',
        packageJson: { exports: { '.': { types: './dist/index.d.ts', node: { import: './dist/main.js' } }, './package.json': './package.json' } },
        files: { 'dist/main.js': definitionSource('plugin', 'from-exports') },
        main: 'export default 42',
      },
      { name: 'pkg-exports-string', packageJson: { exports: './lib.js' }, files: { 'lib.js': definitionSource('plugin', 'from-string') } },
      { name: 'pkg-main', packageJson: { main: './lib/entry' }, files: { 'lib/entry.js': definitionSource('plugin', 'from-main') } },
      { name: 'pkg-unbuilt', packageJson: { exports: { '.': { import: './dist/index.js' } } } },
    ])
    const report = await resolveIn(dir, { plugins: { 'pkg-exports': {}, 'pkg-exports-string': {}, 'pkg-main': {}, 'pkg-unbuilt': {} } })
    expect(report.packages.map((loaded) => loaded.definition.fixture)).toEqual(['from-exports', 'from-string', 'from-main'])
    const failed = only(report.problems, 'RBT_ERR_PACKAGE_LOAD_FAILED')
    expect(failed.package).toBe('pkg-unbuilt')
    expect(failed.message).toContain('./dist/index.js does not exist')
  })

  it('answers the absolute worker path of a skill, and reports a worker file that is missing', async () => {
    const dir = await app([
      { name: 'skill-pool', manifest: { kind: 'skill', worker: './dist/worker.js' }, files: { 'dist/worker.js': 'export const work = (x) => x' } },
      { name: 'skill-unbuilt', manifest: { kind: 'skill', worker: './dist/worker.js' } },
    ])
    const report = await resolveIn(dir, { skills: { 'skill-pool': {}, 'skill-unbuilt': {} } })
    expect(report.packages.map((loaded) => [loaded.name, loaded.workerPath])).toEqual([
      ['skill-pool', join(dir, 'node_modules/skill-pool/dist/worker.js')],
    ])
    const invalid = only(report.problems, 'RBT_ERR_MANIFEST_INVALID')
    expect(invalid.package).toBe('skill-unbuilt')
    expect(invalid.message).toContain('robutler.worker points to ./dist/worker.js, which does not exist')
  })
})

describe('the report', () => {
  it('collects every problem of a broken app in one report', async () => {
    const dir = await app([
      { name: 'pkg-old', manifest: { kernel: '^9.0.0' } },
      { name: 'pkg-needy', manifest: { requires: ['db:main'] } },
      { name: 'pkg-bad-config', configSchema: { type: 'object', properties: { port: { type: 'integer' } } } },
      { name: 'pkg-not-plugin', main: 'export default "hello"' },
      { name: 'pkg-throws', main: `throw new TypeError('cannot read config')` },
      { name: 'pkg-weird', manifest: { kind: 'gadget' } },
      { name: 'pkg-skill', manifest: { kind: 'skill' } },
      { name: 'pkg-fine' },
    ])
    const report = await resolveIn(dir, {
      plugins: {
        'pkg-old': {}, 'pkg-needy': {}, 'pkg-bad-config': { port: 'eighty' }, 'pkg-not-plugin': {},
        'pkg-throws': {}, 'pkg-weird': {}, 'pkg-skill': {}, 'pkg-fine': {}, '@robutler/plugin-missing': {},
      },
    })
    expect(report.problems.map((entry) => [entry.code, entry.package]).sort()).toEqual(
      [
        ['RBT_ERR_PACKAGE_NOT_INSTALLED', '@robutler/plugin-missing'],
        ['RBT_ERR_PLUGIN_VERSION_MISMATCH', 'pkg-old'],
        ['RBT_ERR_REQUIRES_MISSING', 'pkg-needy'],
        ['RBT_ERR_PACKAGE_CONFIG_INVALID', 'pkg-bad-config'],
        ['RBT_ERR_PACKAGE_EXPORT_INVALID', 'pkg-not-plugin'],
        ['RBT_ERR_PACKAGE_LOAD_FAILED', 'pkg-throws'],
        ['RBT_ERR_MANIFEST_INVALID', 'pkg-weird'],
        ['RBT_ERR_PACKAGE_KIND_MISMATCH', 'pkg-skill'],
      ].sort(),
    )
    expect(names(report)).toEqual(['pkg-fine'])

    const text = formatReport(report.problems)
    const blocks = text.split(/\n(?=RBT_ERR_)/)
    expect(blocks).toHaveLength(8)
    expect(text).toContain("RBT_ERR_PACKAGE_NOT_INSTALLED  the config's `plugins` section needs @robutler/plugin-missing, which is not installed in")
    expect(text).toContain("(nor in a parent folder's node_modules)\n  → npm install @robutler/plugin-missing")
    expect(text).toContain('RBT_ERR_PACKAGE_LOAD_FAILED  pkg-throws failed to load: cannot read config')
    expect(text).toContain("pkg-not-plugin's default export is a string")
  })

  it('formats a problem without its package in the message with the package first', () => {
    expect(formatReport([{ code: 'RBT_ERR_X_Y', package: '@a/b', message: 'went wrong', hint: 'do this' }])).toBe(
      'RBT_ERR_X_Y  @a/b: went wrong\n  → do this',
    )
    expect(formatReport([])).toBe('')
  })

  it('documents every code it can report', () => {
    const codes = Object.keys(PROBLEM_CODES)
    for (const code of codes) {
      expect(code).toMatch(/^RBT_ERR_[A-Z]+_[A-Z_]+$/)
      expect(PROBLEM_CODES[code as keyof typeof PROBLEM_CODES].length).toBeGreaterThan(10)
    }
    expect(codes).toEqual(
      expect.arrayContaining([
        'RBT_ERR_MANIFEST_INVALID',
        'RBT_ERR_PLUGIN_VERSION_MISMATCH',
        'RBT_ERR_PACKAGE_NOT_INSTALLED',
        'RBT_ERR_REQUIRES_MISSING',
        'RBT_ERR_DEPENDENCY_CYCLE',
        'RBT_ERR_PACKAGE_CONFIG_INVALID',
        'RBT_ERR_PACKAGE_EXPORT_INVALID',
        'RBT_ERR_PACKAGE_LOAD_FAILED',
        'RBT_ERR_PACKAGE_KIND_MISMATCH',
        'RBT_ERR_PEER_RANGE_MISMATCH',
        'RBT_ERR_CONFIG_SCHEMA_INVALID',
      ]),
    )
  })
})
