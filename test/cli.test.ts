// The `robutler` bin as an operator runs it: --version, --help, doctor and start, on temp apps with configs.
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { makeApp, type FixturePackage } from './helpers/fixture-app.js'
import { cleanEnv, killIfAlive, runCli, startServer, type RunningServer } from './helpers/cli-process.js'
import { BYSTANDER, IDLE, LOCAL_PLUGIN, brokenApp, linkLocalPlugin, pluginEvents, recordingPlugin, registeredWith, writeConfig } from './helpers/kernel-app.js'

const RECORDER = '@fx/plugin-recorder'
const cleanups: Array<() => Promise<void>> = []
const servers: RunningServer[] = []

afterEach(async () => {
  for (const server of servers.splice(0)) killIfAlive(server.child)
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

afterAll(() => {
  for (const server of servers) killIfAlive(server.child)
})

async function app(packages: FixturePackage[], options: { local?: boolean } = {}): Promise<string> {
  const made = await makeApp({ packages })
  cleanups.push(made.cleanup)
  if (options.local) await linkLocalPlugin(made.dir)
  return made.dir
}

/** A valid app: plugin-local, a recording plugin with a section, an agent on local/echo, a `${VAR:-default}` title. */
async function goodApp(): Promise<{ dir: string; config: string }> {
  const dir = await app([{ name: RECORDER, main: recordingPlugin(RECORDER) }], { local: true })
  const config = await writeConfig(dir, {
    server: { title: '${ROBUTLER_TEST_TITLE:-Fixture server}', host: '127.0.0.1', urlPrefix: '/api/v1', logLevel: 'info' },
    plugins: { [LOCAL_PLUGIN]: {}, [RECORDER]: { color: 'teal' } },
    agents: [{ name: 'echo', model: 'local/echo' }],
  })
  return { dir, config }
}

describe('robutler --version and --help', () => {
  it('prints the kernel version', async () => {
    for (const flag of ['--version', '-v']) {
      const result = await runCli([flag])
      expect(result).toMatchObject({ code: 0, stdout: '1.0.0\n' })
    }
  })

  it('lists the start and doctor commands', async () => {
    const result = await runCli(['--help'])
    expect(result.code).toBe(0)
    expect(result.stdout).toContain('robutler start [--config FILE] [--app-dir DIR] [--host HOST] [--port PORT] [--workers N]')
    expect(result.stdout).toContain('robutler doctor [--config FILE] [--app-dir DIR]')
    expect(result.stdout).toContain('robutler init [--config FILE]')
    expect(result.stdout).toContain('Exit codes: 0 done, 1 refused or failed, 2 misused.')
    expect(result.stdout).toMatch(/^\s+start\s+/m)
    expect(result.stdout).toMatch(/^\s+doctor\s+/m)
  })

  it('exits 2 on an unknown command, naming it', async () => {
    const result = await runCli(['frobnicate'])
    expect(result.code).toBe(2)
    expect(result.stderr).toContain("unknown command 'frobnicate'")
    expect(result.stdout).toBe('')
  })
})

describe('robutler doctor', () => {
  it('exits 0 on a good config after doing all that start does short of listening: plugins boot and close', async () => {
    const { dir, config } = await goodApp()
    const result = await runCli(['doctor', '--config', config])
    expect(result.stderr).toBe('')
    expect(result.code).toBe(0)
    expect(result.stdout).toContain('no problems found (plugins booted and agents built, then closed)')
    expect(result.stdout).toContain(`${LOCAL_PLUGIN}@1.0.0 (plugin)`)
    expect(result.stdout).toContain(`${RECORDER}@1.0.0 (plugin)`)
    expect(result.stdout).toMatch(/agents: echo\b/)
    expect(result.stdout).not.toContain('listening')
    expect(registeredWith(dir, RECORDER)).toEqual({ config: { color: 'teal' }, version: '1.0.0' })
    expect(pluginEvents(dir)).toEqual([`register ${RECORDER}`, `close ${RECORDER}`])
  })

  it('prints every problem of a broken app in one run, exits 1 and starts nothing', async () => {
    const broken = brokenApp()
    const dir = await app(broken.packages)
    const config = await writeConfig(dir, broken.config)
    const result = await runCli(['doctor', '--config', config])
    expect(result.code).toBe(1)
    for (const code of broken.codes) expect(result.stdout).toContain(code)
    expect(result.stdout).toContain('^9.0.0')
    // No package is named after an unknown prefix: the hint is the marketplace search, not a made-up name.
    expect(result.stdout).toContain('npx robutler plugins search nosuch')
    expect(result.stdout).not.toContain('@robutler/plugin-nosuch')
    expect(result.stdout).not.toContain(IDLE)
    expect(result.stdout).not.toContain('listening')
    expect(registeredWith(dir, BYSTANDER)).toBeNull()
    expect(pluginEvents(dir)).toEqual([])
  })

  it('finds packages from the app (the working directory’s package, or --app-dir), wherever the config lives', async () => {
    const { dir, config } = await goodApp()
    const elsewhere = await app([])
    await writeFile(join(elsewhere, 'package.json'), JSON.stringify({ name: 'elsewhere', private: true }))
    // Run from another package: its node_modules are searched, and it has none of the config's plugins.
    const fromElsewhere = await runCli(['doctor', '--config', config], { cwd: elsewhere })
    expect(fromElsewhere.code).toBe(1)
    expect(fromElsewhere.stdout).toContain(`needs ${RECORDER}, which is not installed in ${elsewhere}`)
    const given = await runCli(['doctor', '--config', config, '--app-dir', dir], { cwd: elsewhere })
    expect(given.code, given.stdout).toBe(0)
    expect(given.stdout).toContain(`${RECORDER}@1.0.0 (plugin)`)
  })
})

describe('robutler start', () => {
  it('exits 1 with the whole report on stderr when the config has problems, booting nothing', async () => {
    const broken = brokenApp()
    const dir = await app(broken.packages)
    const config = await writeConfig(dir, broken.config)
    const result = await runCli(['start', '--config', config, '--port', '0'])
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(/cannot start, \d+ problem\(s\)/)
    for (const code of broken.codes) expect(result.stderr).toContain(code)
    expect(result.stdout).not.toContain('listening')
    expect(registeredWith(dir, BYSTANDER)).toBeNull()
  })

  it('exits 1 naming an unset ${VAR} with RBT_ERR_CONFIG_ENV_MISSING', async () => {
    const dir = await app([], { local: true })
    const config = await writeConfig(dir, {
      plugins: { [LOCAL_PLUGIN]: {} },
      agents: [{ name: 'echo', model: 'local/echo', instructions: 'Key: ${ROBUTLER_TEST_UNSET_SECRET}' }],
    })
    const result = await runCli(['start', '--config', config, '--port', '0'])
    expect(result.code).toBe(1)
    expect(result.stderr).toContain('RBT_ERR_CONFIG_ENV_MISSING')
    expect(result.stderr).toContain('ROBUTLER_TEST_UNSET_SECRET')
    expect(result.stdout).not.toContain('listening')
  })

  it('exits 1 on a config file that does not exist', async () => {
    const dir = await app([])
    const result = await runCli(['start', '--config', `${dir}/missing.json`])
    expect(result.code).toBe(1)
    expect(result.stderr).toContain('RBT_ERR_CONFIG_NOT_FOUND')
    expect(result.stderr).toContain(`${dir}/missing.json`)
  })

  it('listens on the --port given, serves health and chat, and exits 0 on SIGTERM after closing plugins', async () => {
    const { dir, config } = await goodApp()
    const server = await startServer(['--config', config, '--port', '0'])
    servers.push(server)
    const url = new URL(server.address)
    expect(url.hostname).toBe('127.0.0.1')
    expect(Number(url.port)).toBeGreaterThan(0)
    expect(Number(url.port)).not.toBe(8000)
    const listening = server.logLines().find((line) => String(line.msg).includes('listening on'))!
    expect(listening).toMatchObject({ level: 'info', address: server.address, baseUrl: `${server.address}/api/v1`, agents: { echo: `${server.address}/api/v1/echo` } })
    expect(listening.msg).toContain(`base URL ${server.address}/api/v1`)
    expect(listening.msg).toContain(`agents: echo ${server.address}/api/v1/echo`)

    const health = await fetch(`${server.address}/api/v1/health`)
    expect(health.status).toBe(200)
    expect(await health.json()).toMatchObject({ status: 'healthy', version: '1.0.0', agents_count: 1 })

    const index = await fetch(`${server.address}/api/v1`)
    expect(await index.json()).toMatchObject({ title: 'Fixture server', agents: ['echo'] })

    const chat = await fetch(`${server.address}/api/v1/echo/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'local/echo', messages: [{ role: 'user', content: 'ping from the cli test' }] }),
    })
    expect(chat.status).toBe(200)
    expect((await chat.json()).choices[0].message.content).toBe('ping from the cli test')
    expect(registeredWith(dir, RECORDER)).toEqual({ config: { color: 'teal' }, version: '1.0.0' })

    server.child.kill('SIGTERM')
    const exit = await server.exited
    expect(exit, server.stderr()).toMatchObject({ code: 0, signal: null })
    expect(pluginEvents(dir)).toEqual([`register ${RECORDER}`, `close ${RECORDER}`])
    expect(server.logLines().some((line) => line.signal === 'SIGTERM')).toBe(true)
    expect(server.logLines().find((line) => String(line.msg).startsWith('drain complete'))).toMatchObject({ finished: 0 })
  })

  it('reads ${VAR} from the environment and ROBUTLER_PORT / ROBUTLER_HOST', async () => {
    const { config } = await goodApp()
    const server = await startServer(['--config', config], {
      env: cleanEnv({ ROBUTLER_TEST_TITLE: 'From the environment', ROBUTLER_PORT: '0', ROBUTLER_HOST: '127.0.0.1' }),
    })
    servers.push(server)
    expect(new URL(server.address).port).not.toBe('8000')
    const index = await fetch(`${server.address}/api/v1`)
    expect(await index.json()).toMatchObject({ title: 'From the environment' })
    server.child.kill('SIGTERM')
    expect((await server.exited).code).toBe(0)
  })
})

describe('commands contributed by plugins', () => {
  it('runs an enabled plugin\'s command with its config section; its exit code is the CLI\'s', async () => {
    const { linkedApp } = await import('./helpers/test-server.js')
    const made = await linkedApp(['keys'])
    cleanups.push(made.cleanup)
    const config = await writeConfig(made.dir, { plugins: { 'robutler-plugin-keys': { keys: { k1: { userId: 'alice', scope: 'all' } } } } })
    const ok = await runCli(['list-test-keys', '--config', config, 'extra', '--flag'])
    expect(ok.code).toBe(0)
    expect(JSON.parse(ok.stdout)).toEqual({ args: ['extra', '--flag'], users: ['alice'] })
    const failed = await runCli(['--config', config, 'list-test-keys', '--fail'])
    expect(failed.code).toBe(3)
    expect(failed.stderr).toContain('asked to fail')
    const unknown = await runCli(['no-such-command', '--config', config])
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain("unknown command 'no-such-command'")
  })
})

describe('npm start (the repo demo)', () => {
  it('SIGTERM to npm reaches the server: it drains and exits, nothing is left running', async () => {
    const { spawn } = await import('node:child_process')
    const { REPO_ROOT } = await import('./helpers/kernel-app.js')
    // A free port on 127.0.0.1, not the demo's 8000: the machine is shared.
    const child = spawn('npm', ['start'], { cwd: REPO_ROOT, env: cleanEnv({ ROBUTLER_PORT: '0', ROBUTLER_HOST: '127.0.0.1' }), stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout!.setEncoding('utf8').on('data', (text: string) => (output += text))
    child.stderr!.setEncoding('utf8').on('data', (text: string) => (output += text))
    // 'exit', not 'close': a server left running would hold the pipes open.
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
    let serverPid = 0
    try {
      const deadline = Date.now() + 60_000
      while (!/listening on http/.test(output)) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`npm start did not listen\n${output}`)
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
      const line = output.split('\n').find((text) => text.includes('listening on http'))!
      serverPid = JSON.parse(line).pid
      expect(serverPid).not.toBe(child.pid)
      child.kill('SIGTERM')
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 15_000))])
      const gone = Date.now() + 15_000
      const alive = () => {
        try {
          process.kill(serverPid, 0)
          return true
        } catch {
          return false
        }
      }
      while (alive() && Date.now() < gone) await new Promise((resolve) => setTimeout(resolve, 50))
      expect(alive(), `the server (pid ${serverPid}) outlived npm\n${output}`).toBe(false)
      expect(output).toContain('drain complete')
    } finally {
      killIfAlive(child)
      if (serverPid > 0) {
        try {
          process.kill(serverPid, 'SIGKILL')
        } catch {
          // Already gone: what the test wants.
        }
      }
    }
  }, 90_000)
})
