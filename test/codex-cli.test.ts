// Codex CLI (the real `codex`, from test/clients) against a Robutler server through plugin-responses: a provider
// whose base_url is the server's urlPrefix and whose wire_api is "responses"; `codex exec` prints the echo agent's
// answer and exits 0.
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
// @ts-expect-error: a plain ES module script, without types
import { CLIENTS_DIR, ensureClients } from './clients/install.mjs'
import { runProcess, type CliResult } from './helpers/cli-process.js'
import { startServer, type TestServer } from './helpers/test-server.js'

const CODEX = join(CLIENTS_DIR, 'node_modules/@openai/codex/bin/codex.js')
const KEY = 'rk-codex-test-key'

/** Runs `codex exec PROMPT` with its own CODEX_HOME (config.toml naming the server) and only the variables it needs. */
function codex(home: string, prompt: string): Promise<CliResult> {
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, CODEX_HOME: home, ROBUTLER_KEY: KEY, RUST_LOG: 'error' }
  const args = [CODEX, 'exec', '--skip-git-repo-check', '--sandbox', 'read-only', prompt]
  return runProcess(process.execPath, args, { cwd: home, env, timeoutMs: 90_000, name: 'codex exec' })
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
