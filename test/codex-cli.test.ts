// Codex CLI (the real `codex`, from test/clients) against a Robutler server through plugin-responses: a provider
// whose base_url is the server's urlPrefix and whose wire_api is "responses"; `codex exec` prints the echo agent's
// answer and exits 0.
import { spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
// @ts-expect-error: a plain ES module script, without types
import { CLIENTS_DIR, ensureClients } from './clients/install.mjs'
import { startServer, type TestServer } from './helpers/test-server.js'

const CODEX = join(CLIENTS_DIR, 'node_modules/@openai/codex/bin/codex.js')
const KEY = 'rk-codex-test-key'

interface Run {
  code: number | null
  stdout: string
  stderr: string
}

/** Runs `codex exec PROMPT` with its own CODEX_HOME (config.toml naming the server) and only the variables it needs. */
function codex(home: string, prompt: string): Promise<Run> {
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, CODEX_HOME: home, ROBUTLER_KEY: KEY, RUST_LOG: 'error' }
  const args = [CODEX, 'exec', '--skip-git-repo-check', '--sandbox', 'read-only', prompt]
  const child = spawn(process.execPath, args, { cwd: home, env, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text))
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text))
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`codex exec still running after 90 s\n${stdout}\n${stderr}`))
    }, 90_000)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })
}

describe('Codex CLI through the Responses surface', () => {
  let t: TestServer
  let home: string

  beforeAll(async () => {
    ensureClients()
    t = await startServer(['local', 'responses', 'keys'], {
      urlPrefix: '/api/v1',
      plugins: { '@robutler/plugin-local': {}, '@robutler/plugin-responses': {}, 'robutler-plugin-keys': { keys: { [KEY]: { userId: 'coder', scope: 'all' } } } },
      agents: [{ name: 'echo', model: 'local/echo' }],
    })
    home = await mkdtemp(join(tmpdir(), 'robutler-codex-'))
    await writeFile(
      join(home, 'config.toml'),
      [
        'model = "echo"',
        'model_provider = "robutler"',
        'approval_policy = "never"',
        // A hosted tool of OpenAI's: this server refuses it by name (a 400), so this provider does not offer it.
        'web_search = "disabled"',
        '',
        '[model_providers.robutler]',
        'name = "Robutler"',
        `base_url = "${t.url}"`,
        'wire_api = "responses"',
        'env_key = "ROBUTLER_KEY"',
        'request_max_retries = 0',
        'stream_max_retries = 0',
        '',
      ].join('\n'),
    )
  }, 600_000)
  afterAll(async () => {
    await t?.close()
    if (home) await rm(home, { recursive: true, force: true })
  })

  it('codex exec prints the echo agent answer and exits 0', async () => {
    const run = await codex(home, 'Hello from Codex')
    expect(run.code, run.stderr).toBe(0)
    expect(run.stdout).toContain('Hello from Codex')
    // It came through the Responses route, as the coder's key.
    expect(t.logs.some((line) => line.includes('/api/v1/responses') && line.includes('"status":200'))).toBe(true)
  }, 120_000)
})
