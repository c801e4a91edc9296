// Temp apps for kernel and CLI tests: recording fixture plugins, the real plugin-local linked in, a config file,
// and one app that has every load-time problem at once.
import { existsSync, readFileSync } from 'node:fs'
import { mkdir, symlink, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { FixturePackage } from './fixture-app.js'

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url))
export const LOCAL_PLUGIN = '@robutler/plugin-local'

/**
 * index.js of a plugin that records what happens to it: `register <name>` and `close <name>` lines in
 * `<app>/node_modules/events.log`, and its config (and the kernel version it saw) in its own `registered.json`.
 * `body` runs inside register after the records and before its onClose is added (throw, hang, register a provider).
 * The brand is built with Symbol.for: fixture packages cannot import the kernel.
 */
export function recordingPlugin(name: string, body = ''): string {
  const up = name.startsWith('@') ? '../../' : '../'
  return `import { appendFileSync, writeFileSync } from 'node:fs'
const brand = Symbol.for('robutler.package')
const name = ${JSON.stringify(name)}
const events = new URL('${up}events.log', import.meta.url)
export default {
  [brand]: 'plugin',
  name,
  async register(kernel, config) {
    appendFileSync(events, 'register ' + name + '\\n')
    writeFileSync(new URL('./registered.json', import.meta.url), JSON.stringify({ config, version: kernel.version }))
    ${body}
    kernel.onClose(() => appendFileSync(events, 'close ' + name + '\\n'))
  },
}
`
}

/** What a recording plugin's register received, or null when it never ran. */
export function registeredWith(appDir: string, name: string): { config: Record<string, unknown>; version: string } | null {
  const file = join(appDir, 'node_modules', name, 'registered.json')
  return existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : null
}

/** The `register …`/`close …` lines recording plugins wrote, in order. */
export function pluginEvents(appDir: string): string[] {
  const file = join(appDir, 'node_modules', 'events.log')
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : []
}

/** Installs the real @robutler/plugin-local in the temp app, as npm workspaces would: a symlink to its folder. */
export async function linkLocalPlugin(appDir: string): Promise<void> {
  const target = join(appDir, 'node_modules', LOCAL_PLUGIN)
  await mkdir(dirname(target), { recursive: true })
  await symlink(join(REPO_ROOT, 'plugins/local'), target, 'dir')
}

/** Writes `robutler.config.json` (or `file`) into the app folder; answers its path. */
export async function writeConfig(appDir: string, config: unknown, file = 'robutler.config.json'): Promise<string> {
  const path = join(appDir, file)
  await writeFile(path, JSON.stringify(config, null, 2))
  return path
}

/** A message of `count` distinct words, so a reassembled stream can be compared word for word. */
export function words(count: number): string {
  return Array.from({ length: count }, (_, i) => `word${i + 1}`).join(' ')
}

export interface BrokenCase {
  /** What is wrong, for test titles. */
  title: string
  packages: FixturePackage[]
  /** The config's `plugins` entries that enable the broken packages. */
  plugins: Record<string, Record<string, unknown>>
  code: string
  /** Fragments the problem's message must contain. */
  fragments: string[]
}

/** One case per load-time package check of DESIGN.md; each app made of one case has exactly that problem. */
export const BROKEN_CASES: BrokenCase[] = [
  {
    title: 'a kernel range that excludes the running kernel',
    packages: [{ name: '@fx/plugin-future', manifest: { kernel: '^9.0.0' }, main: recordingPlugin('@fx/plugin-future') }],
    plugins: { '@fx/plugin-future': {} },
    code: 'RBT_ERR_PLUGIN_VERSION_MISMATCH',
    fragments: ['@fx/plugin-future', '^9.0.0', '1.0.0'],
  },
  {
    title: 'a requirement nobody provides',
    packages: [{ name: '@fx/plugin-needy', manifest: { requires: ['store:sql'] }, main: recordingPlugin('@fx/plugin-needy') }],
    plugins: { '@fx/plugin-needy': {} },
    code: 'RBT_ERR_REQUIRES_MISSING',
    fragments: ['@fx/plugin-needy', 'store:sql'],
  },
  {
    title: 'a dependency cycle',
    packages: [
      { name: '@fx/plugin-cycle-a', manifest: { provides: ['cycle:a'], requires: ['cycle:b'] }, main: recordingPlugin('@fx/plugin-cycle-a') },
      { name: '@fx/plugin-cycle-b', manifest: { provides: ['cycle:b'], requires: ['cycle:a'] }, main: recordingPlugin('@fx/plugin-cycle-b') },
    ],
    plugins: { '@fx/plugin-cycle-a': {}, '@fx/plugin-cycle-b': {} },
    code: 'RBT_ERR_DEPENDENCY_CYCLE',
    fragments: ['@fx/plugin-cycle-a → @fx/plugin-cycle-b → @fx/plugin-cycle-a'],
  },
  {
    title: 'an invalid manifest (a misspelt field)',
    packages: [{ name: '@fx/plugin-typo', manifest: { provide: ['x:y'] }, main: recordingPlugin('@fx/plugin-typo') }],
    plugins: { '@fx/plugin-typo': {} },
    code: 'RBT_ERR_MANIFEST_INVALID',
    fragments: ['@fx/plugin-typo', 'robutler.provide'],
  },
  {
    title: 'a config section that fails its schema',
    packages: [
      {
        name: '@fx/plugin-strict',
        configSchema: { type: 'object', additionalProperties: false, properties: { retries: { type: 'integer', minimum: 0 } } },
        main: recordingPlugin('@fx/plugin-strict'),
      },
    ],
    plugins: { '@fx/plugin-strict': { retries: 'many' } },
    code: 'RBT_ERR_PACKAGE_CONFIG_INVALID',
    fragments: ['@fx/plugin-strict', 'retries'],
  },
  {
    title: 'a default export that is not a plugin',
    packages: [{ name: '@fx/plugin-unbranded', main: `export default { register: async () => {} }\n` }],
    plugins: { '@fx/plugin-unbranded': {} },
    code: 'RBT_ERR_PACKAGE_EXPORT_INVALID',
    fragments: ['@fx/plugin-unbranded', 'not a plugin'],
  },
]

/** A valid plugin the broken app also enables: it must never register, since nothing may boot. */
export const BYSTANDER = '@fx/plugin-bystander'
/** Installed in the broken app, enabled by nobody: importing it throws. */
export const IDLE = '@fx/plugin-idle'

/** Every broken case in one app, plus a valid enabled plugin, an idle one, and an agent on an unknown provider. */
export function brokenApp(): { packages: FixturePackage[]; config: Record<string, unknown>; codes: string[] } {
  const packages: FixturePackage[] = [
    ...BROKEN_CASES.flatMap((c) => c.packages),
    { name: BYSTANDER, main: recordingPlugin(BYSTANDER) },
    { name: IDLE, main: `throw new Error('${IDLE} is not enabled and must not be imported')\n` },
  ]
  const plugins = Object.assign({ [BYSTANDER]: {} }, ...BROKEN_CASES.map((c) => c.plugins))
  const config = { plugins, agents: [{ name: 'ghost', model: 'nosuch/model-1' }] }
  return { packages, config, codes: [...BROKEN_CASES.map((c) => c.code), 'RBT_ERR_MODEL_PROVIDER_UNKNOWN'] }
}
