// Claude Code (the real `claude` CLI, from test/clients) against a Robutler server through plugin-messages:
// `claude -p` with ANTHROPIC_BASE_URL at the server prints the echo agent's answer and exits 0; a key that
// plugin-auth-keys does not know makes it fail with an authentication error; with non-essential traffic
// disabled it connects to nothing but the server (traced with strace).
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
// @ts-expect-error: a plain ES module script, without types
import { CLIENTS_DIR, ensureClients } from './clients/install.mjs'
import { runProcess, type CliResult } from './helpers/cli-process.js'
import { startServer, type TestServer } from './helpers/test-server.js'

const CLAUDE = join(CLIENTS_DIR, 'node_modules/@anthropic-ai/claude-code/cli.js')
const KEY = 'rk-claude-code-test-key'

function hasStrace(): boolean {
  try {
    execFileSync('strace', ['-V'], { stdio: 'ignore' })
    return true
  } catch {
    // Not installed: the traced run says so (and fails under CI, where .ci/run installs strace).
    return false
  }
}

/** Runs `claude -p PROMPT --model AGENT` against the server, with its own HOME and only the variables it needs. */
function claude(t: TestServer, home: string, prompt: string, options: { agent: string; key: string; trace?: string }): Promise<CliResult> {
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    CLAUDE_CONFIG_DIR: join(home, '.claude'),
    ANTHROPIC_BASE_URL: t.url,
    ANTHROPIC_API_KEY: options.key,
    // No telemetry, error reports, update checks or other calls anywhere but the base URL.
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    DISABLE_AUTOUPDATER: '1',
    // Claude Code retries even a 401 with backoff (for a minute and more): once is enough against a local server.
    CLAUDE_CODE_MAX_RETRIES: '0',
  }
  const args = [CLAUDE, '-p', prompt, '--model', options.agent]
  const [command, argv] = options.trace ? ['strace', ['-f', '-qq', '-e', 'trace=connect', '-o', options.trace, process.execPath, ...args]] : [process.execPath, args]
  return runProcess(command, argv as string[], { cwd: home, env, timeoutMs: 60_000, name: 'claude -p' })
}

describe('Claude Code through the Messages API surface', () => {
  let t: TestServer
  let home: string

  beforeAll(async () => {
    ensureClients()
    home = await mkdtemp(join(tmpdir(), 'robutler-claude-'))
    t = await startServer(['local', 'messages', 'authKeys'], {
      urlPrefix: '/api/v1',
      plugins: {
        '@robutler/plugin-local': {},
        '@robutler/plugin-messages': {},
        '@robutler/plugin-auth-keys': { keys: [{ key: KEY, userId: 'dev', scope: 'all' }] },
      },
      agents: [{ name: 'echo', model: 'local/echo' }],
    })
  }, 600_000)
  afterAll(async () => {
    await t?.close()
    if (home) await rm(home, { recursive: true, force: true })
  })

  it('is installed from test/clients', () => {
    expect(existsSync(CLAUDE)).toBe(true)
  })

  it('claude -p prints the echo agent answer and exits 0', async () => {
    const run = await claude(t, home, 'hello from claude code', { agent: 'echo', key: KEY })
    expect(run.code, run.stderr).toBe(0)
    // local/echo answers the last user message: Claude Code's own reminders, then the prompt.
    expect(run.stdout.trim().endsWith('hello from claude code')).toBe(true)
    const lines = t.logs.map((line) => JSON.parse(line)).filter((line) => line.msg === 'request' && String(line.url).startsWith('/api/v1/v1/messages'))
    expect(lines.at(-1)).toMatchObject({ method: 'POST', url: '/api/v1/v1/messages?beta=true', status: 200, agent: 'echo' })
  }, 90_000)

  it('a key the server does not know fails with an authentication error', async () => {
    const run = await claude(t, home, 'hello', { agent: 'echo', key: 'rk-wrong-key' })
    expect(run.code).not.toBe(0)
    expect(`${run.stdout}\n${run.stderr}`).toMatch(/401|authentication|API key/i)
    const lines = t.logs.map((line) => JSON.parse(line)).filter((line) => line.msg === 'request' && line.status === 401)
    expect(lines.at(-1)).toMatchObject({ error: 'RBT_ERR_UNAUTHENTICATED' })
    expect(t.logs.join('\n')).not.toContain('rk-wrong-key')
  }, 90_000)

  it.runIf(hasStrace() || process.env.CI === 'true')('connects to nothing but the server (strace of every connect)', async () => {
    const trace = join(home, 'connect.trace')
    const run = await claude(t, home, 'traced', { agent: 'echo', key: KEY, trace })
    expect(run.code, run.stderr).toBe(0)
    const port = new URL(t.url).port
    const text = await readFile(trace, 'utf8')
    const inet = [...text.matchAll(/sa_family=AF_INET6?, sin6?_port=htons\((\d+)\), (?:sin_addr=inet_addr\("([^"]+)"\)|[^)]*inet_pton\(AF_INET6, "([^"]+)")/g)].map((m) => `${m[2] ?? m[3]}:${m[1]}`)
    expect(inet.length).toBeGreaterThan(0)
    expect(new Set(inet)).toEqual(new Set([`127.0.0.1:${port}`]))
  }, 90_000)
})
