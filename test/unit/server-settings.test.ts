// The one table of server settings: the config schema's server section, the config → options mapping with its
// ROBUTLER_* overrides, and the defaults createServer resolves, all read from it.
import { availableParallelism } from 'node:os'
import { resolve } from 'node:path'
import { optionsFromConfig } from '@robutler/kernel'
import { describe, expect, it } from 'vitest'
import { configSchema, validateConfigShape } from '../../kernel/dist/config-schema.js'
import { resolveSettings, SERVER_SETTINGS } from '../../kernel/dist/options.js'

describe('resolveSettings', () => {
  it('answers every default when nothing is set', () => {
    expect(resolveSettings({}, {})).toEqual({
      title: 'Robutler',
      urlPrefix: '',
      host: '127.0.0.1',
      port: 8000,
      logLevel: 'info',
      logPretty: false,
      corsOrigins: null,
      requestTimeoutMs: 300_000,
      bodyLimit: 10 * 1024 * 1024,
      headersTimeoutMs: 20_000,
      bodyTimeoutMs: 60_000,
      maxConnectionsPerIp: 128,
      drainTimeoutMs: 30_000,
      pluginTimeoutMs: 10_000,
      workerThreads: Math.max(1, availableParallelism() - 1),
      workerQueue: 256,
      workerResourceLimits: { maxOldGenerationSizeMb: 512, maxExternalMb: 256 },
      isolation: { processes: 2, memoryMb: 256 },
      maxToolResultBytes: 1024 * 1024,
      toolTimeoutMs: 60_000,
      agentMaxStaleMs: 600_000,
      providerTimeoutMs: 120_000,
      providerRetries: 2,
      appDir: resolve('.'),
      baseDir: resolve('.'),
      monitoring: false,
      asyncContext: 'auto',
      trustProxy: false,
      params: {},
    })
  })

  it('normalises what it is given: units, prefix, sizes, thread count, limits, CORS, monitoring', () => {
    const settings = resolveSettings(
      {
        urlPrefix: 'api/v1/',
        requestTimeout: 1.5,
        maxRequestSize: '2kb',
        drainTimeout: 0,
        workerThreads: 0,
        workerResourceLimits: { stackSizeMb: 4 },
        enableCors: true,
        enablePrometheus: true,
        appDir: '/srv/app',
      },
      {},
    )
    expect(settings).toMatchObject({
      urlPrefix: '/api/v1',
      requestTimeoutMs: 1500,
      bodyLimit: 2048,
      drainTimeoutMs: 0,
      workerThreads: 0,
      workerResourceLimits: { maxOldGenerationSizeMb: 512, maxExternalMb: 256, stackSizeMb: 4 },
      corsOrigins: ['*'],
      monitoring: true,
      appDir: '/srv/app',
    })
    expect(resolveSettings({ corsOrigins: ['https://a.example'] }, {}).corsOrigins).toEqual(['https://a.example'])
    expect(resolveSettings({}, { PROMETHEUS_ENABLED: 'true' }).monitoring).toBe(true)
  })

  it('refuses a timeout that is not a positive number of seconds, naming it', () => {
    expect(() => resolveSettings({ providerTimeout: 0 }, {})).toThrow(/providerTimeout must be a positive number of seconds, got 0/)
    expect(() => resolveSettings({ toolTimeout: -1 }, {})).toThrow(/toolTimeout must be a positive number of seconds/)
    expect(() => resolveSettings({ requestTimeout: Number.NaN }, {})).toThrow(/requestTimeout/)
    expect(() => resolveSettings({ bodyTimeout: 0 }, {})).toThrow(/bodyTimeout must be a positive number of seconds/)
    expect(() => resolveSettings({ maxToolResultSize: 'lots' }, {})).toThrow(/maxToolResultSize 'lots' is not a size/)
  })

  it("refuses a params policy that names the request's own fields, or defaults above its own cap", () => {
    expect(() => resolveSettings({ params: { allow: ['temperature', 'messages'] } }, {})).toThrow(/server\.params\.allow names 'messages'/)
    expect(() => resolveSettings({ params: { maxTokens: 100, defaults: { max_tokens: 200 } } }, {})).toThrow(/params\.defaults\.max_tokens is 200, above maxTokens 100/)
  })
})

describe('optionsFromConfig', () => {
  it('maps every server setting to the option of its name, cors to two', () => {
    const server = {
      title: 'T', host: '0.0.0.0', port: 9000, urlPrefix: '/v1', logLevel: 'debug', logPretty: true, cors: { origins: ['https://x'] },
      requestTimeout: 10, maxRequestSize: '1MB', workers: 3, workerThreads: 2, workerQueue: 8, workerResourceLimits: { maxOldGenerationSizeMb: 64 },
      toolTimeout: 5, providerTimeout: 6, providerRetries: 1, asyncContext: true, trustProxy: 1, drainTimeout: 4, pluginTimeout: 500,
      headersTimeout: 5, bodyTimeout: 9, maxConnectionsPerIp: 10, maxToolResultSize: '64KB', agentMaxStale: 30,
      params: { allow: ['temperature'], defaults: { temperature: 0.2 }, force: { store: false }, maxTokens: 512, refused: 'drop' },
    }
    expect(validateConfigShape({ server })).toBe(true)
    const options = optionsFromConfig({ server, agents: [], plugins: {}, skills: {} }, '/srv/app', {})
    const { workers: _cli, cors, ...settings } = server
    expect(options).toEqual({ ...settings, corsOrigins: cors.origins, enableCors: true, agents: [], plugins: {}, skills: {}, baseDir: '/srv/app', env: {} })
  })

  it('finds packages from the app folder given, relative paths from the config file’s folder', () => {
    const options = optionsFromConfig({}, '/etc/robutler', {}, { appDir: '/opt/robutler' })
    expect(options).toMatchObject({ appDir: '/opt/robutler', baseDir: '/etc/robutler' })
    expect(resolveSettings(options, {})).toMatchObject({ appDir: '/opt/robutler', baseDir: '/etc/robutler' })
    // No app folder given: the current directory, as Node resolves packages from it.
    expect(resolveSettings(optionsFromConfig({}, '/etc/robutler', {}), {})).toMatchObject({ appDir: resolve('.'), baseDir: '/etc/robutler' })
  })

  it('ROBUTLER_HOST, ROBUTLER_PORT and ROBUTLER_LOG_LEVEL override the file; empty ones do not', () => {
    const config = { server: { host: 'file-host', port: 1, logLevel: 'warn' } }
    const env = { ROBUTLER_HOST: '10.0.0.1', ROBUTLER_PORT: '8123', ROBUTLER_LOG_LEVEL: 'trace' }
    expect(optionsFromConfig(config, '.', env)).toMatchObject({ host: '10.0.0.1', port: 8123, logLevel: 'trace' })
    expect(optionsFromConfig(config, '.', { ROBUTLER_HOST: '', ROBUTLER_PORT: '', ROBUTLER_LOG_LEVEL: '' })).toMatchObject({ host: 'file-host', port: 1, logLevel: 'warn' })
    expect(optionsFromConfig({}, '.', {})).toMatchObject({ enableCors: false, host: undefined, port: undefined })
  })

  it('refuses an override that the setting would not accept, naming the variable', () => {
    expect(() => optionsFromConfig({}, '.', { ROBUTLER_PORT: 'eighty' })).toThrow("ROBUTLER_PORT must be a port number, got 'eighty'")
    expect(() => optionsFromConfig({}, '.', { ROBUTLER_PORT: '70000' })).toThrow(/ROBUTLER_PORT must be a port number/)
    expect(() => optionsFromConfig({}, '.', { ROBUTLER_LOG_LEVEL: 'loud' })).toThrow(/ROBUTLER_LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got 'loud'/)
  })
})

describe('the config schema', () => {
  it("has the table's settings in its server section, and cors and workers, and nothing else", () => {
    const properties = Object.keys((configSchema.properties.server as { properties: object }).properties)
    expect(properties.sort()).toEqual([...Object.keys(SERVER_SETTINGS), 'cors', 'workers'].sort())
    expect(validateConfigShape({ server: { colour: 'blue' } })).toBe(false)
    expect(validateConfigShape({ server: { port: 70000 } })).toBe(false)
  })
})
