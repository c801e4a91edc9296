// Startup through the kernel's exports: what a temp app's installed packages and config make createServer and
// checkStartup do. Every load-time problem is collected before anything boots; boot failures name the plugin.
import { afterEach, describe, expect, it } from 'vitest'
import { checkStartup, createServer, loadConfigFile, StartupError, type RobutlerServer, type ServerOptions } from '@robutler/kernel'
import { makeApp, type FixturePackage } from './helpers/fixture-app.js'
import {
  BROKEN_CASES,
  BYSTANDER,
  IDLE,
  brokenApp,
  linkLocalPlugin,
  pluginEvents,
  recordingPlugin,
  registeredWith,
  writeConfig,
} from './helpers/kernel-app.js'

type Problem = StartupError['problems'][number]

const cleanups: Array<() => Promise<void>> = []

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function app(packages: FixturePackage[], options: { local?: boolean } = {}): Promise<string> {
  const made = await makeApp({ packages })
  cleanups.push(made.cleanup)
  if (options.local) await linkLocalPlugin(made.dir)
  return made.dir
}

/** createServer with a silent log and an empty environment (nothing enabled by the test runner's variables). */
async function start(appDir: string, options: ServerOptions = {}): Promise<RobutlerServer> {
  const server = await createServer({ appDir, logLevel: 'silent', env: {}, ...options })
  cleanups.push(() => server.close())
  return server
}

/** The StartupError createServer refuses with (fails the test when it starts instead). */
async function refusal(appDir: string, options: ServerOptions = {}): Promise<StartupError> {
  const error = await start(appDir, options).then(
    () => null,
    (thrown: unknown) => thrown,
  )
  expect(error, 'createServer should have refused to start').toBeInstanceOf(StartupError)
  const refused = error as StartupError
  expect(refused.code).toBe('RBT_ERR_STARTUP')
  return refused
}

/** Any error createServer rejects with (fails the test when it starts instead). */
async function rejection(appDir: string, options: ServerOptions = {}): Promise<Error & { code?: string }> {
  const error = await start(appDir, options).then(
    () => null,
    (thrown: unknown) => thrown,
  )
  expect(error, 'createServer should have rejected').toBeInstanceOf(Error)
  return error as Error & { code?: string }
}

function codes(problems: Problem[]): string[] {
  return problems.map((p) => p.code)
}

function withCode(problems: Problem[], code: string): Problem {
  const found = problems.filter((p) => p.code === code)
  expect(found, `exactly one ${code} in:\n${problems.map((p) => `${p.code} ${p.message}`).join('\n')}`).toHaveLength(1)
  return found[0]!
}

describe('enablement', () => {
  it('does not load an installed plugin the config does not enable', async () => {
    const dir = await app([
      { name: '@fx/plugin-enabled', main: recordingPlugin('@fx/plugin-enabled') },
      { name: '@fx/plugin-idle-valid', main: recordingPlugin('@fx/plugin-idle-valid') },
      { name: IDLE, main: `throw new Error('${IDLE} is not enabled and must not be imported')\n` },
    ])
    const options = { plugins: { '@fx/plugin-enabled': {} } }

    const report = await checkStartup({ appDir: dir, ...options }, {})
    expect(report.problems).toEqual([])
    expect(report.enabled).toEqual([{ name: '@fx/plugin-enabled', version: '1.0.0', kind: 'plugin' }])
    expect(report.discovered.map((p) => p.name)).toEqual(['@fx/plugin-enabled', IDLE, '@fx/plugin-idle-valid'])

    await start(dir, options)
    expect(registeredWith(dir, '@fx/plugin-enabled')).not.toBeNull()
    expect(registeredWith(dir, '@fx/plugin-idle-valid')).toBeNull()
    expect(pluginEvents(dir)).toEqual(['register @fx/plugin-enabled'])
  })

  it('loads an enabled plugin with its config section, schema defaults applied, and closes it on close', async () => {
    const dir = await app([
      {
        name: '@fx/plugin-greeter',
        main: recordingPlugin('@fx/plugin-greeter'),
        configSchema: {
          type: 'object',
          additionalProperties: false,
          properties: { greeting: { type: 'string' }, retries: { type: 'integer', default: 3 }, mode: { enum: ['a', 'b'], default: 'b' } },
        },
      },
    ])
    const server = await start(dir, { plugins: { '@fx/plugin-greeter': { greeting: 'hi', mode: 'a' } } })
    expect(registeredWith(dir, '@fx/plugin-greeter')).toEqual({ config: { greeting: 'hi', mode: 'a', retries: 3 }, version: '1.0.0' })

    const health = await server.app.inject({ method: 'GET', url: '/health' })
    expect(health.statusCode).toBe(200)
    expect(health.json()).toMatchObject({ status: 'healthy', version: '1.0.0' })

    await server.close()
    expect(pluginEvents(dir)).toEqual(['register @fx/plugin-greeter', 'close @fx/plugin-greeter'])
  })

  it('boots plugins after what they require and closes them in reverse order', async () => {
    const dir = await app([
      { name: '@fx/plugin-a-user', manifest: { requires: ['store:z'] }, main: recordingPlugin('@fx/plugin-a-user') },
      { name: '@fx/plugin-z-store', manifest: { provides: ['store:z'] }, main: recordingPlugin('@fx/plugin-z-store') },
    ])
    const server = await start(dir, { plugins: { '@fx/plugin-a-user': {}, '@fx/plugin-z-store': {} } })
    await server.close()
    expect(pluginEvents(dir)).toEqual([
      'register @fx/plugin-z-store',
      'register @fx/plugin-a-user',
      'close @fx/plugin-a-user',
      'close @fx/plugin-z-store',
    ])
  })
})

describe('load-time problems', () => {
  for (const broken of BROKEN_CASES) {
    it(`refuses ${broken.title} with ${broken.code}`, async () => {
      const dir = await app(broken.packages)
      const error = await refusal(dir, { plugins: broken.plugins })
      expect(codes(error.problems)).toEqual([broken.code])
      const found = withCode(error.problems, broken.code)
      for (const fragment of broken.fragments) expect(found.message).toContain(fragment)
      expect(error.message).toContain(broken.code)
      // Refused before anything boots.
      expect(pluginEvents(dir)).toEqual([])

      const report = await checkStartup({ appDir: dir, plugins: broken.plugins }, {})
      expect(codes(report.problems)).toEqual([broken.code])
    })
  }

  it('names both versions when the kernel range excludes the running kernel', async () => {
    const dir = await app(BROKEN_CASES[0]!.packages)
    const error = await refusal(dir, { plugins: BROKEN_CASES[0]!.plugins })
    const mismatch = withCode(error.problems, 'RBT_ERR_PLUGIN_VERSION_MISMATCH')
    expect(mismatch.package).toBe('@fx/plugin-future')
    expect(mismatch.message).toMatch(/\^9\.0\.0/)
    expect(mismatch.message).toMatch(/\b1\.0\.0\b/)
  })

  it('collects every problem of one app into one StartupError and one checkStartup report', async () => {
    const broken = brokenApp()
    const dir = await app(broken.packages)
    const configPath = await writeConfig(dir, broken.config)
    const { config, dir: configDir } = await loadConfigFile(configPath, {})
    const options: ServerOptions = { appDir: configDir, plugins: config.plugins, agents: config.agents }

    const error = await refusal(dir, options)
    expect([...new Set(codes(error.problems))].sort()).toEqual([...broken.codes].sort())
    for (const code of broken.codes) expect(error.message).toContain(code)
    expect(error.message).not.toContain(IDLE)
    expect(registeredWith(dir, BYSTANDER)).toBeNull()

    const report = await checkStartup(options, {})
    expect([...new Set(codes(report.problems))].sort()).toEqual([...broken.codes].sort())
    expect(report.problems.map((p) => p.package)).not.toContain(IDLE)
    expect(registeredWith(dir, BYSTANDER)).toBeNull()
    expect(pluginEvents(dir)).toEqual([])
  })
})

describe('plugin boot', () => {
  const base = { name: '@fx/plugin-base', manifest: { provides: ['store:base'] }, main: recordingPlugin('@fx/plugin-base') }

  it('fails with RBT_ERR_PLUGIN_BOOT_FAILED naming a plugin whose register throws, and closes what booted', async () => {
    const dir = await app([
      base,
      {
        name: '@fx/plugin-crashy',
        manifest: { requires: ['store:base'] },
        main: recordingPlugin('@fx/plugin-crashy', `throw new Error('database unreachable')`),
      },
    ])
    const error = await rejection(dir, { plugins: { '@fx/plugin-base': {}, '@fx/plugin-crashy': {} } })
    expect(error.code).toBe('RBT_ERR_PLUGIN_BOOT_FAILED')
    expect(error.message).toContain('@fx/plugin-crashy')
    expect(error.message).toContain('database unreachable')
    expect(error.message).not.toContain('@fx/plugin-base')
    expect(pluginEvents(dir)).toEqual(['register @fx/plugin-base', 'register @fx/plugin-crashy', 'close @fx/plugin-base'])
  })

  it('a plugin that fails to boot closes the Fastify app too: the onClose hooks of plugins before it run', async () => {
    const watcher = '@fx/plugin-watcher'
    const dir = await app([
      {
        name: watcher,
        manifest: { provides: ['store:base'] },
        main: recordingPlugin(watcher, `kernel.http.addHook('onClose', async () => appendFileSync(events, 'app closed\\n'))`),
      },
      { name: '@fx/plugin-crashy', manifest: { requires: ['store:base'] }, main: recordingPlugin('@fx/plugin-crashy', `throw new Error('database unreachable')`) },
    ])
    const error = await rejection(dir, { plugins: { [watcher]: {}, '@fx/plugin-crashy': {} } })
    expect(error.code).toBe('RBT_ERR_PLUGIN_BOOT_FAILED')
    expect(pluginEvents(dir)).toEqual([`register ${watcher}`, 'register @fx/plugin-crashy', `close ${watcher}`, 'app closed'])
  })

  it('fails with RBT_ERR_PLUGIN_BOOT_TIMEOUT naming a plugin whose register never resolves', async () => {
    const dir = await app([
      base,
      { name: '@fx/plugin-stuck', manifest: { requires: ['store:base'] }, main: recordingPlugin('@fx/plugin-stuck', `await new Promise(() => {})`) },
    ])
    const started = Date.now()
    const error = await rejection(dir, { plugins: { '@fx/plugin-base': {}, '@fx/plugin-stuck': {} }, pluginTimeout: 300 })
    const elapsed = Date.now() - started
    expect(error.code).toBe('RBT_ERR_PLUGIN_BOOT_TIMEOUT')
    expect(error.message).toContain('@fx/plugin-stuck')
    expect(error.message).toContain('300')
    expect(error.message).not.toContain('@fx/plugin-base')
    expect(elapsed).toBeGreaterThanOrEqual(290)
    expect(elapsed).toBeLessThan(5_000)
    expect(pluginEvents(dir)).toEqual(['register @fx/plugin-base', 'register @fx/plugin-stuck', 'close @fx/plugin-base'])
  })
})

describe('agents', () => {
  it('refuses a model whose prefix no plugin provides, with the npm install line', async () => {
    const dir = await app([], { local: true })
    const agents = [
      { name: 'support', model: 'openai/gpt-4o' },
      { name: 'echo', model: 'local/echo' },
    ]
    const error = await refusal(dir, { agents })
    const unknown = withCode(error.problems, 'RBT_ERR_MODEL_PROVIDER_UNKNOWN')
    expect(unknown.message).toContain('openai/gpt-4o')
    expect(unknown.message).toContain('support')
    expect(unknown.hint).toContain('npm install @robutler/plugin-openai')
    expect(codes(error.problems)).toEqual(['RBT_ERR_MODEL_PROVIDER_UNKNOWN'])

    const report = await checkStartup({ appDir: dir, agents }, {})
    expect(codes(report.problems)).toEqual(['RBT_ERR_MODEL_PROVIDER_UNKNOWN'])
  })

  it('serves an agent whose provider plugin is installed but not named in the config', async () => {
    const dir = await app([], { local: true })
    const server = await start(dir, { agents: [{ name: 'echo', model: 'local/echo' }] })
    const reply = await server.app.inject({
      method: 'POST',
      url: '/echo/chat/completions',
      payload: { model: 'x', messages: [{ role: 'user', content: 'hello there' }] },
    })
    expect(reply.statusCode).toBe(200)
    expect(reply.json().choices[0].message.content).toBe('hello there')
  })

  it("refuses an agent named 'health': a route of its own", async () => {
    const dir = await app([], { local: true })
    const error = await refusal(dir, { agents: [{ name: 'health', model: 'local/echo' }] })
    const invalid = withCode(error.problems, 'RBT_ERR_AGENT_INVALID')
    expect(invalid.message).toContain("'health'")
  })

  it("reports an agent named 'health' in checkStartup (doctor), before any plugin boots", async () => {
    const dir = await app([], { local: true })
    const report = await checkStartup({ appDir: dir, agents: [{ name: 'health', model: 'local/echo' }] }, {})
    const invalid = withCode(report.problems, 'RBT_ERR_AGENT_INVALID')
    expect(invalid.message).toContain("'health'")
  })

  it('refuses two agents with the same name, in createServer and checkStartup', async () => {
    const dir = await app([], { local: true })
    const agents = [
      { name: 'twin', model: 'local/echo' },
      { name: 'twin', model: 'local/echo', instructions: 'the other one' },
    ]
    const error = await refusal(dir, { agents })
    expect(withCode(error.problems, 'RBT_ERR_AGENT_INVALID').message).toContain("'twin'")
    const report = await checkStartup({ appDir: dir, agents }, {})
    expect(withCode(report.problems, 'RBT_ERR_AGENT_INVALID').message).toContain("'twin'")
  })
})

describe('monitoring', () => {
  const install = 'npm install @robutler/plugin-prometheus'

  it('refuses enableMonitoring without @robutler/plugin-prometheus installed, with the npm install line', async () => {
    const dir = await app([], { local: true })
    for (const options of [{ enableMonitoring: true }, { enablePrometheus: true }]) {
      const error = await refusal(dir, options)
      const missing = withCode(error.problems, 'RBT_ERR_PACKAGE_NOT_INSTALLED')
      expect(missing.package).toBe('@robutler/plugin-prometheus')
      expect(missing.hint).toBe(install)
      expect(error.message).toContain(install)
    }
  })

  it('refuses PROMETHEUS_ENABLED=true without the plugin, naming the variable', async () => {
    const dir = await app([], { local: true })
    const error = await refusal(dir, { env: { PROMETHEUS_ENABLED: 'true' } })
    const missing = withCode(error.problems, 'RBT_ERR_PACKAGE_NOT_INSTALLED')
    expect(missing.message).toContain('PROMETHEUS_ENABLED=true')
    expect(missing.hint).toBe(install)
  })
})

describe('config ${VAR} interpolation', () => {
  it('fails with RBT_ERR_CONFIG_ENV_MISSING naming an unset variable', async () => {
    const dir = await app([])
    const path = await writeConfig(dir, { plugins: { '@fx/plugin-keyed': { apiKey: '${ROBUTLER_TEST_UNSET_KEY}' } } })
    const error: any = await loadConfigFile(path, {}).then(
      () => null,
      (thrown: unknown) => thrown,
    )
    expect(error, 'loadConfigFile should reject').toBeInstanceOf(StartupError)
    expect(error.problems.map((p: Problem) => p.code)).toEqual(['RBT_ERR_CONFIG_ENV_MISSING'])
    expect(error.message).toContain('ROBUTLER_TEST_UNSET_KEY')
    expect(error.message).toContain('plugins["@fx/plugin-keyed"].apiKey')
  })

  it('uses ${VAR:-default} when VAR is unset, and VAR when it is set', async () => {
    const dir = await app([])
    const path = await writeConfig(dir, {
      server: { title: '${ROBUTLER_TEST_TITLE:-Fallback title}', urlPrefix: '/api/${ROBUTLER_TEST_VERSION:-v1}' },
    })
    expect((await loadConfigFile(path, {})).config.server).toEqual({ title: 'Fallback title', urlPrefix: '/api/v1' })
    const given = await loadConfigFile(path, { ROBUTLER_TEST_TITLE: 'Given title', ROBUTLER_TEST_VERSION: 'v2' })
    expect(given.config.server).toEqual({ title: 'Given title', urlPrefix: '/api/v2' })
    expect(given.dir).toBe(dir)
  })
})
