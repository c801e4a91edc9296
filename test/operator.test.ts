// An operator's first hour, done wrong on purpose: every failure of the `robutler` command says what and where,
// all at once, with a code and what to do, and the exit code says how it ended (0 done, 1 refused or failed,
// 2 misused). Runs the real bin as a child process over temp apps whose node_modules link the repo's packages.
import { createServer as createTcpServer, type Server } from 'node:net'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { killIfAlive, runCli, startServer, type CliResult, type RunningServer } from './helpers/cli-process.js'
import { makeApp } from './helpers/fixture-app.js'
import { linkedApp, type PackageKey } from './helpers/test-server.js'

const cleanups: Array<() => Promise<void>> = []
const servers: RunningServer[] = []

afterEach(async () => {
  for (const server of servers.splice(0)) killIfAlive(server.child)
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** An app folder (package.json, linked packages) and its config file, written as text (comments allowed). */
async function appWith(keys: PackageKey[], configText: string): Promise<{ dir: string; config: string }> {
  const app = await linkedApp(keys)
  cleanups.push(app.cleanup)
  await writeFile(join(app.dir, 'package.json'), JSON.stringify({ name: 'operator-app', private: true }))
  const config = join(app.dir, 'robutler.config.json')
  await writeFile(config, configText)
  return { dir: app.dir, config }
}

/** The `CODE  message` lines of a report, in order. */
function codeLines(text: string): string[] {
  return text.split('\n').filter((line) => /^RBT_ERR_[A-Z_]+ {2}/.test(line))
}

function expectNoStack(result: CliResult): void {
  expect(result.stderr + result.stdout).not.toMatch(/\n\s+at .+:\d+:\d+/)
}

/** A port something else holds, for "port in use". */
async function busyPort(): Promise<{ port: number; server: Server }> {
  const server = createTcpServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  cleanups.push(() => new Promise((resolve) => server.close(() => resolve())))
  return { port: (server.address() as { port: number }).port, server }
}

describe('config problems: all at once, each at file:line:column with its JSON path and what to do', () => {
  const text = [
    '{',
    '  // comments are fine: the config is JSON with comments, as tsconfig.json',
    '  "server": { "prot": 8000, "urlPrefix": "/api/v1" },',
    '  "plugins": { "@robutler/plugin-local": { "apiKey": "${ROBUTLER_TEST_UNSET_ONE}" } },',
    '  "agents": [',
    '    { "name": "health", "model": "local/echo", "instructions": "${ROBUTLER_TEST_UNSET_TWO}" },',
    '    { "name": "Support Bot", "model": "echo" },',
    '  ],',
    '}',
  ].join('\n')

  it('doctor lists two unset variables, the schema errors and a reserved name in one run, one per line', async () => {
    const { config } = await appWith(['local'], text)
    const result = await runCli(['doctor', '--config', config])
    expect(result.code).toBe(1)
    expectNoStack(result)
    expect(result.stdout).toContain('6 problem(s)')
    expect(codeLines(result.stdout)).toEqual([
      `RBT_ERR_CONFIG_ENV_MISSING  ${config}:4:54: plugins["@robutler/plugin-local"].apiKey uses \${ROBUTLER_TEST_UNSET_ONE}, and the environment variable ROBUTLER_TEST_UNSET_ONE is not set`,
      `RBT_ERR_CONFIG_ENV_MISSING  ${config}:6:64: agents[0].instructions uses \${ROBUTLER_TEST_UNSET_TWO}, and the environment variable ROBUTLER_TEST_UNSET_TWO is not set`,
      `RBT_ERR_CONFIG_INVALID  ${config}:3:15: server.prot is not a known field (did you mean 'port'?)`,
      `RBT_ERR_CONFIG_INVALID  ${config}:7:15: agents[1].name must be lower-case letters, digits, '-' and '_', starting with a letter or digit, at most 64 characters, got "Support Bot"`,
      `RBT_ERR_CONFIG_INVALID  ${config}:7:39: agents[1].model must be 'provider/model', as 'openai/gpt-4o' or 'local/echo', got "echo"`,
      `RBT_ERR_AGENT_INVALID  ${config}:6:15: agents[0].name: 'health' is a route of its own and cannot name an agent`,
    ])
    expect(result.stdout).toContain('→ set ROBUTLER_TEST_UNSET_ONE in the environment, or give a default: ${ROBUTLER_TEST_UNSET_ONE:-default}')
    expect(result.stdout).toContain("→ rename it to 'port'")
    expect(result.stdout).toContain('→ rename the agent (taken: health, live, ready, info, agents, metrics, models, chat)')
    // Words, not the pattern's regex.
    expect(result.stdout).not.toContain('^[a-z0-9]')
  })

  it('start prints the same report on stderr and exits 1', async () => {
    const { config } = await appWith(['local'], text)
    const doctor = await runCli(['doctor', '--config', config])
    const result = await runCli(['start', '--config', config, '--port', '0'])
    expect(result.code).toBe(1)
    expectNoStack(result)
    expect(result.stderr).toContain('robutler: cannot start, 6 problem(s):')
    expect(codeLines(result.stderr)).toEqual(codeLines(doctor.stdout))
    expect(result.stdout).not.toContain('listening')
  })

  it('a syntax error is said at its line:column with the line shown', async () => {
    const { config } = await appWith(['local'], '{\n  "plugins": { "@robutler/plugin-local": {} }\n  "agents": []\n}\n')
    const result = await runCli(['doctor', '--config', config])
    expect(result.code).toBe(1)
    expect(result.stdout).toContain(`RBT_ERR_CONFIG_INVALID  ${config}:3:3: not valid JSON: expected ','`)
    expect(result.stdout).toContain('    3 |   "agents": []\n      |   ^')
  })
})

describe('doctor runs everything start runs short of listening', () => {
  it('a skill whose setup throws with the configured values', async () => {
    const { config } = await appWith(
      ['local', 'basics'],
      JSON.stringify({
        plugins: { '@robutler/plugin-local': {} },
        skills: { '@robutler/skill-basics': { timezone: 'Mars/Olympus' } },
        agents: [{ name: 'clock', model: 'local/echo', skills: { '@robutler/skill-basics': {} } }],
      }, null, 2),
    )
    const doctor = await runCli(['doctor', '--config', config])
    expect(doctor.code).toBe(1)
    expect(codeLines(doctor.stdout)).toEqual([
      `RBT_ERR_SKILL_SETUP_FAILED  ${config}:11:5: Skill '@robutler/skill-basics' failed to set up for agent 'clock': Unknown time zone 'Mars/Olympus': use an IANA name such as 'UTC', 'Europe/Paris' or 'America/New_York'`,
    ])
    const start = await runCli(['start', '--config', config, '--port', '0'])
    expect(start.code).toBe(1)
    expect(start.stderr).toContain('robutler: cannot start, 1 problem(s):')
    expect(codeLines(start.stderr)).toEqual(codeLines(doctor.stdout))
  })

  it('two skills of one agent that define the same tool: both named', async () => {
    const skill = (name: string) => ({
      name,
      manifest: { kind: 'skill' },
      main: `import { defineSkill } from '@robutler/kernel'\nexport default defineSkill({ name: '${name}', setup: () => ({ tools: [{ name: 'lookup', description: 'x', parameters: { type: 'object' }, run: () => 'ok' }] }) })\n`,
    })
    const made = await makeApp({ packages: [skill('robutler-skill-one'), skill('robutler-skill-two')] })
    cleanups.push(made.cleanup)
    const linked = await linkedApp(['local'])
    cleanups.push(linked.cleanup)
    // The fixture skills import the kernel: link it, and plugin-local, into the fixture app.
    const { symlink } = await import('node:fs/promises')
    await mkdir(join(made.dir, 'node_modules/@robutler'), { recursive: true })
    await symlink(join(linked.dir, 'node_modules/@robutler/plugin-local'), join(made.dir, 'node_modules/@robutler/plugin-local'))
    await symlink(join(process.cwd(), 'kernel'), join(made.dir, 'node_modules/@robutler/kernel'))
    const config = join(made.dir, 'robutler.config.json')
    await writeFile(config, JSON.stringify({
      plugins: { '@robutler/plugin-local': {} },
      agents: [{ name: 'both', model: 'local/echo', skills: { 'robutler-skill-one': {}, 'robutler-skill-two': {} } }],
    }))
    const doctor = await runCli(['doctor', '--config', config])
    expect(doctor.code).toBe(1)
    const [line] = codeLines(doctor.stdout)
    expect(line).toContain("Skill 'robutler-skill-two' failed to set up for agent 'both': tool 'lookup' is defined by skill 'robutler-skill-one' too")
  })

  it('server.logPretty without pino-pretty installed in the app', async () => {
    const { config, dir } = await appWith(['local'], JSON.stringify({ server: { logPretty: true }, plugins: { '@robutler/plugin-local': {} }, agents: [{ name: 'echo', model: 'local/echo' }] }))
    const doctor = await runCli(['doctor', '--config', config])
    expect(doctor.code).toBe(1)
    expect(codeLines(doctor.stdout)).toEqual([`RBT_ERR_CONFIG_INVALID  ${config}:1:24: server.logPretty needs pino-pretty, which is not installed in ${dir}`])
    expect(doctor.stdout).toContain('→ npm install --save-dev pino-pretty')
  })
})

describe('messages that say what is true', () => {
  it('a bad plugin section is one problem: its plugin still counts as the provider of its models', async () => {
    const { config } = await appWith(['local'], JSON.stringify({ plugins: { '@robutler/plugin-local': { chunkDelay: 5 } }, agents: [{ name: 'echo', model: 'local/echo' }] }, null, 2))
    const doctor = await runCli(['doctor', '--config', config])
    expect(codeLines(doctor.stdout)).toEqual([
      `RBT_ERR_PACKAGE_CONFIG_INVALID  ${config}:3:5: the config of @robutler/plugin-local is invalid: config.chunkDelay is not a known field (did you mean 'chunkDelayMs'?)`,
    ])
  })

  it("a skill only an agent's skills map names: the agent is named, not the `skills` section", async () => {
    const { config, dir } = await appWith(['local'], JSON.stringify({ plugins: { '@robutler/plugin-local': {} }, agents: [{ name: 'support', model: 'local/echo', skills: { 'robutler-skill-gone': {} } }] }))
    const doctor = await runCli(['doctor', '--config', config])
    const [line] = codeLines(doctor.stdout)
    expect(line).toContain(`agent 'support' (its \`skills\` map) needs robutler-skill-gone, which is not installed in ${dir}`)
    expect(line).not.toContain('`skills` section')
  })

  it('a model prefix nobody serves suggests the marketplace search, never a package that does not exist', async () => {
    const { config } = await appWith(['local'], JSON.stringify({ plugins: { '@robutler/plugin-local': {} }, agents: [{ name: 'x', model: 'nope/x' }, { name: 'y', model: 'openai/gpt-4o' }] }))
    const doctor = await runCli(['doctor', '--config', config])
    expect(doctor.stdout).toContain('→ no first-party plugin serves \'nope/…\' models: find one with `npx robutler plugins search nope`')
    expect(doctor.stdout).not.toContain('@robutler/plugin-nope')
    expect(doctor.stdout).toContain("→ npm install @robutler/plugin-openai, then enable it in the config's `plugins` section")
  })

  it("an unknown command that a first-party plugin brings says which, and exits 2", async () => {
    const { config } = await appWith(['local'], JSON.stringify({ plugins: { '@robutler/plugin-local': {} } }))
    const keys = await runCli(['keys', 'list', '--config', config])
    expect(keys.code).toBe(2)
    expect(keys.stderr).toContain(`RBT_ERR_CLI_UNKNOWN_COMMAND  unknown command 'keys': not built in, and no enabled plugin in ${config} provides it`)
    expect(keys.stderr).toContain("→ it comes with @robutler/plugin-auth-keys: npm install @robutler/plugin-auth-keys, enable it in the config's `plugins` section")
  })
})

describe('coded errors, never stacks; exit 2 for a misused command', () => {
  it.each([
    [['start', '--port', '99999'], "robutler start: --port must be a port number from 0 to 65535, got '99999'"],
    [['start', '--workers', '0'], "robutler start: --workers must be a whole number from 1 to 256, got '0'"],
    [['start', '--prot', '8000'], "robutler robutler: Unknown option '--prot'"],
    [['doctor', '--port', '1'], 'robutler doctor: --host, --port and --workers are options of start'],
  ])('%j', async (args, says) => {
    const { dir } = await appWith(['local'], JSON.stringify({ plugins: { '@robutler/plugin-local': {} } }))
    const result = await runCli(args, { cwd: dir })
    expect(result.code).toBe(2)
    expectNoStack(result)
    expect(result.stderr).toContain(`RBT_ERR_CLI_USAGE  ${says}`)
  })

  it('a port in use is RBT_ERR_LISTEN_FAILED, saying what to pass instead; exit 1', async () => {
    const { port } = await busyPort()
    const { config } = await appWith(['local'], JSON.stringify({ plugins: { '@robutler/plugin-local': {} }, agents: [{ name: 'echo', model: 'local/echo' }] }))
    const result = await runCli(['start', '--config', config, '--port', String(port)])
    expect(result.code).toBe(1)
    expectNoStack(result)
    expect(result.stderr).toContain('robutler: cannot start, 1 problem(s):')
    expect(result.stderr).toContain(`RBT_ERR_LISTEN_FAILED  Cannot listen on 127.0.0.1:${port}: the port is in use by another process: stop it, or serve on another port (--port, ROBUTLER_PORT or server.port)`)
  })

  it('--workers 2 whose workers cannot listen: the report once, and exit 1 (not a replacement loop, not 0)', async () => {
    const { port } = await busyPort()
    const { config } = await appWith(['local'], JSON.stringify({ server: { workerThreads: 1 }, plugins: { '@robutler/plugin-local': {} }, agents: [{ name: 'echo', model: 'local/echo' }] }))
    const result = await runCli(['start', '--config', config, '--port', String(port), '--workers', '2'], { timeoutMs: 30_000 })
    expect(result.code).toBe(1)
    expectNoStack(result)
    expect(result.stderr.split('RBT_ERR_LISTEN_FAILED').length - 1).toBe(1)
    expect(result.stderr).toContain('RBT_ERR_CLI_WORKERS_FAILED  the workers cannot start: worker')
    expect(result.stdout).not.toContain('worker died; replacing it')
  })

  it('--workers 2 whose plugin fails to boot (a database that refuses): exit 1 with the plugin named', async () => {
    const made = await makeApp({ packages: [{ name: 'robutler-plugin-refused', main: `export default { [Symbol.for('robutler.package')]: 'plugin', register: async () => { throw new Error('connect ECONNREFUSED 127.0.0.1:1') } }\n` }] })
    cleanups.push(made.cleanup)
    await writeFile(join(made.dir, 'package.json'), JSON.stringify({ name: 'app', private: true }))
    const config = join(made.dir, 'robutler.config.json')
    await writeFile(config, JSON.stringify({ server: { workerThreads: 1 }, plugins: { 'robutler-plugin-refused': {} } }))
    const result = await runCli(['start', '--config', config, '--port', '0', '--workers', '2'], { cwd: made.dir, timeoutMs: 30_000 })
    expect(result.code).toBe(1)
    expect(result.stderr.split("RBT_ERR_PLUGIN_BOOT_FAILED  Plugin 'robutler-plugin-refused' failed to start: connect ECONNREFUSED").length - 1).toBe(1)
    expect(result.stderr).toContain('RBT_ERR_CLI_WORKERS_FAILED')
  })
})

describe('robutler init', () => {
  it('writes a commented starter config that doctor and start accept, says what to install, and never overwrites', async () => {
    const app = await linkedApp(['local'])
    cleanups.push(app.cleanup)
    const missing = await runCli(['start', '--port', '0'], { cwd: app.dir })
    expect(missing.code).toBe(1)
    expect(missing.stderr).toContain(`RBT_ERR_CONFIG_NOT_FOUND  Config file not found: ${join(app.dir, 'robutler.config.json')}\n  → npx robutler init writes a starter config`)

    const init = await runCli(['init'], { cwd: app.dir })
    expect(init.code, init.stderr).toBe(0)
    expect(init.stdout).toContain(`wrote ${join(app.dir, 'robutler.config.json')}`)
    // No package.json here: it says to make one; plugin-local is linked, so there is nothing to install.
    expect(init.stdout).toContain('  npm init -y\n  npx robutler start')
    const text = await readFile(join(app.dir, 'robutler.config.json'), 'utf8')
    expect(text).toMatch(/^\/\/ /)
    expect(text).toContain('// "@robutler/plugin-openai": { "apiKey": "${OPENAI_API_KEY}" }')

    const doctor = await runCli(['doctor'], { cwd: app.dir })
    expect(doctor.code, doctor.stdout).toBe(0)
    const server = await startServer(['--port', '0'], { cwd: app.dir })
    servers.push(server)
    const models = (await (await fetch(`${server.address}/api/v1/models`)).json()) as { data: Array<{ id: string }> }
    expect(models.data.map((model) => model.id)).toEqual(['echo'])

    const again = await runCli(['init'], { cwd: app.dir })
    expect(again.code).toBe(1)
    expect(again.stderr).toContain(`RBT_ERR_CLI_CONFIG_EXISTS  ${join(app.dir, 'robutler.config.json')} exists already`)
  })
})

describe("docs/operations.md's layouts as written: the config in /etc/robutler, the app in /opt/robutler", () => {
  /** A root with etc/robutler (the config and its agents folder) and opt/robutler (the app), as the recipes have. */
  async function layout(): Promise<{ app: string; config: string }> {
    const root = await linkedApp(['local', 'agentsFile'])
    cleanups.push(root.cleanup)
    const app = join(root.dir, 'opt/robutler')
    const etc = join(root.dir, 'etc/robutler')
    await mkdir(join(etc, 'agents'), { recursive: true })
    await mkdir(app, { recursive: true })
    const { rename } = await import('node:fs/promises')
    await rename(join(root.dir, 'node_modules'), join(app, 'node_modules'))
    await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'robutler-deployment', private: true }))
    const config = join(etc, 'robutler.config.json')
    await writeFile(config, [
      '{',
      '  // as the Kubernetes ConfigMap sets it',
      '  "server": { "urlPrefix": "/api/v1", "workerThreads": 1, "drainTimeout": 30 },',
      '  "plugins": {',
      '    "@robutler/plugin-local": {},',
      '    "@robutler/plugin-agents-file": { "dir": "./agents" }  // relative to this file\'s folder',
      '  },',
      '  "agents": [{ "name": "support", "model": "local/echo" }]',
      '}',
    ].join('\n'))
    await writeFile(join(etc, 'agents', 'sales.json'), JSON.stringify({ model: 'local/echo', description: 'from /etc/robutler/agents' }))
    return { app, config }
  }

  it.each([
    ['systemd: WorkingDirectory=/opt/robutler, start --config /etc/robutler/robutler.config.json --workers 2', ['--workers', '2']],
    ['Kubernetes: args ["start", "--config", "/etc/robutler/robutler.config.json"] in the app image', []],
  ])('%s', async (_title, extra) => {
    const { app, config } = await layout()
    const doctor = await runCli(['doctor', '--config', config], { cwd: app })
    expect(doctor.code, doctor.stdout).toBe(0)
    const server = await startServer(['--config', config, '--port', '0', ...extra], { cwd: app, timeoutMs: 30_000 })
    servers.push(server)
    const agents = (await (await fetch(`${server.address}/api/v1/agents`)).json()) as { data: Array<{ name: string; description: string }> }
    expect(agents.data.map((agent) => agent.name)).toEqual(['support', 'sales'])
    const chat = await fetch(`${server.address}/api/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'sales', messages: [{ role: 'user', content: 'served from /etc' }] }),
    })
    expect(((await chat.json()) as any).choices[0].message.content).toBe('served from /etc')
    server.child.kill('SIGTERM')
    expect((await server.exited).code).toBe(0)
  })
})
