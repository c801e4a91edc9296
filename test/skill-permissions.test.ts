// Skills get the skill API, not the kernel API, and only the permissions their manifest declares and the operator
// granted. A hostile skill (test/fixtures/skills/hostile) tries what a skill could do with the kernel API; each
// attempt fails at setup or finds nothing, and the tests read its outcomes through chat, as any client would.
import { readFileSync } from 'node:fs'
import { symlink, writeFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { checkStartup, configProblems, createServer, parseConfigText, type RobutlerServer } from '@robutler/kernel'
import { definitionSource, makeApp, type FixturePackage } from './helpers/fixture-app.js'
import { LOCAL_PLUGIN, linkLocalPlugin } from './helpers/kernel-app.js'

const HOSTILE = 'robutler-skill-hostile'
const HOSTILE_SOURCE = readFileSync(new URL('./fixtures/skills/hostile/index.js', import.meta.url), 'utf8')
const cleanups: Array<() => Promise<void>> = []

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function app(packages: FixturePackage[]): Promise<string> {
  const made = await makeApp({ packages })
  cleanups.push(made.cleanup)
  await linkLocalPlugin(made.dir)
  return made.dir
}

function hostilePackage(permissions: Record<string, unknown> = { env: ['HOSTILE_GRANTED'] }, version = '1.0.0'): FixturePackage {
  return { name: HOSTILE, version, manifest: { kind: 'skill', permissions }, main: HOSTILE_SOURCE }
}

async function start(appDir: string, skills: Record<string, Record<string, unknown>>, agents: Array<Record<string, unknown>>): Promise<RobutlerServer> {
  const server = await createServer({
    appDir,
    logLevel: 'silent',
    env: { HOSTILE_SECRET: 'the-operators-secret', HOSTILE_GRANTED: 'granted-value', OPENAI_API_KEY: 'sk-not-for-skills' },
    plugins: { [LOCAL_PLUGIN]: {} },
    skills,
    agents: agents as any,
  })
  cleanups.push(() => server.close())
  return server
}

async function startError(appDir: string, skills: Record<string, Record<string, unknown>>, agents: Array<Record<string, unknown>>) {
  return start(appDir, skills, agents).then(
    () => null,
    (thrown: unknown) => thrown as Error & { code?: string; problems?: Array<{ code: string; message: string; hint?: string }> },
  )
}

/** Runs a tool through the agent's chat (plugin-local's `/tool NAME {json}`) and answers the tool's text. */
async function callTool(server: RobutlerServer, agent: string, tool: string, args: Record<string, unknown> = {}): Promise<string> {
  const response = await server.app.inject({
    method: 'POST',
    url: `/${agent}/chat/completions`,
    payload: { messages: [{ role: 'user', content: `/tool ${tool} ${JSON.stringify(args)}` }] },
  })
  expect(response.statusCode).toBe(200)
  return response.json().choices[0].message.content
}

describe('a skill gets the skill API, not the kernel API', () => {
  it('refuses a hostile skill every kernel part at setup, gives it no undeclared env, and only its own agent', async () => {
    const dir = await app([hostilePackage()])
    const server = await start(dir, { [HOSTILE]: { grant: { env: ['HOSTILE_GRANTED'] }, isolate: false } }, [
      { name: 'host', model: 'local/echo', skills: { [HOSTILE]: {} } },
      { name: 'victim', model: 'local/echo' },
    ])
    const attempts = JSON.parse(await callTool(server, 'host', 'attempts'))
    // Undeclared: reads as unset, the way an unset variable would.
    expect(attempts.undeclaredEnv).toEqual({ ok: true, value: null })
    for (const [what, key] of [['fastify', 'http'], ['app', 'app'], ['authenticator', 'auth'], ['providers', 'providers'], ['otherAgentConfig', 'agents'], ['events', 'events']]) {
      expect(attempts[what!], what).toEqual({ ok: false, error: expect.stringContaining(`the skill API has no '${key}'`) })
    }
    expect(attempts.healthCheck).toEqual({ ok: false, error: expect.stringContaining("needs the kernel permission 'health'") })
    // Declared and granted: there.
    expect(await callTool(server, 'host', 'granted_env')).toBe('granted-value')
    // Its hook runs on its own agent only.
    await callTool(server, 'victim', 'anything')
    expect(JSON.parse(await callTool(server, 'host', 'hooked_agents'))).toEqual(['host'])
    // And the victim has none of its tools.
    const victim = await server.app.inject({ method: 'GET', url: '/victim' })
    expect(victim.json().tools).toEqual([])
  })

  it("refuses `access` from a skill without the kernel permission 'access'; skill-auth declares it and keeps working", async () => {
    const setup = `setup: () => ({ access: { required: false, admins: ['mallory'] } })`
    const dir = await app([{ name: 'robutler-skill-admins', manifest: { kind: 'skill' }, main: definitionSource('skill', 'admins').replace('setup: (config) => ({ tools: [] })', setup) }])
    const error = await startError(dir, { 'robutler-skill-admins': { isolate: false } }, [{ name: 'echo', model: 'local/echo', skills: { 'robutler-skill-admins': {} } }])
    expect(error?.problems?.map((found) => found.message)).toEqual([
      "Skill 'robutler-skill-admins' failed to set up for agent 'echo': access: needs the kernel permission 'access' (robutler.permissions.kernel in its package.json), granted by the operator",
    ])
    const manifest = JSON.parse(readFileSync(new URL('../skills/auth/package.json', import.meta.url), 'utf8'))
    expect(manifest.robutler.permissions).toEqual({ kernel: ['access'] })
  })
})

describe('grants', () => {
  it('refuses at start a skill that asks for more than its entry grants, naming the new permissions, until re-granted', async () => {
    const dir = await app([hostilePackage({ env: ['HOSTILE_GRANTED', 'HOSTILE_SECRET'], network: ['api.hostile.example'] }, '2.0.0')])
    const agents = [{ name: 'host', model: 'local/echo', skills: { [HOSTILE]: {} } }]
    // The grant the operator gave version 1.0.0, which asked for HOSTILE_GRANTED only.
    const error = await startError(dir, { [HOSTILE]: { grant: { env: ['HOSTILE_GRANTED'] }, isolate: false } }, agents)
    expect(error?.code).toBe('RBT_ERR_STARTUP')
    expect(error?.problems).toHaveLength(1)
    expect(error?.problems?.[0]).toMatchObject({
      code: 'RBT_ERR_SKILL_PERMISSION_NOT_GRANTED',
      message: `Skill '${HOSTILE}' 2.0.0 asks for permissions its config entry does not grant: env: HOSTILE_SECRET; network: api.hostile.example`,
      hint: expect.stringContaining(`npx robutler skills add ${HOSTILE}`),
    })
    const regranted = { env: ['HOSTILE_GRANTED', 'HOSTILE_SECRET'], network: ['api.hostile.example'] }
    const server = await start(dir, { [HOSTILE]: { grant: regranted, isolate: false } }, agents)
    expect(JSON.parse(await callTool(server, 'host', 'attempts')).undeclaredEnv).toEqual({ ok: true, value: 'the-operators-secret' })
  })

  it('grants nothing to a third-party skill without a grant, and a first-party skill what it declares', async () => {
    const declaring = (name: string): FixturePackage => ({ name, manifest: { kind: 'skill', permissions: { env: ['HOSTILE_GRANTED'] } }, main: definitionSource('skill', name) })
    const dir = await app([declaring('robutler-skill-stranger'), declaring('@robutler/skill-fixture')])
    const error = await startError(dir, {}, [{ name: 'echo', model: 'local/echo', skills: { 'robutler-skill-stranger': {}, '@robutler/skill-fixture': {} } }])
    expect(error?.problems?.map((found) => found.message)).toEqual([
      "Skill 'robutler-skill-stranger' 1.0.0 asks for permissions its config entry does not grant: env: HOSTILE_GRANTED",
    ])
  })

  it('refuses a grant with unknown permissions, and a non-boolean isolate, in the config file', () => {
    const text = JSON.stringify({ skills: { [HOSTILE]: { grant: { env: ['HOSTILE_GRANTED'], root: true }, isolate: 'yes' } } })
    const parsed = parseConfigText(text, 'robutler.config.json')
    expect(configProblems(parsed.value, {}, parsed.source).problems.map((found) => found.message)).toEqual([
      `robutler.config.json:1:73: skills["${HOSTILE}"].grant.root is not a known field`,
      `robutler.config.json:1:96: skills["${HOSTILE}"].isolate must be boolean, got "yes"`,
    ])
  })
})

describe('manifest paths stay inside the package', () => {
  it('refuses at start a worker or config path that escapes, as text or through a link, without reading it', async () => {
    const dir = await app([
      { name: 'robutler-skill-worker-out', manifest: { kind: 'skill', worker: '../../../outside.js' } },
      { name: 'robutler-skill-config-out', manifest: { kind: 'skill', config: '/etc/passwd' } },
      { name: 'robutler-skill-linked-out', manifest: { kind: 'skill', config: './schema.json' } },
    ])
    await writeFile(join(dir, 'outside.json'), '{"type": "object", "secret": "outside-bytes"}')
    await symlink(join(dir, 'outside.json'), join(dir, 'node_modules/robutler-skill-linked-out/schema.json'))
    const skills = { 'robutler-skill-worker-out': {}, 'robutler-skill-config-out': {}, 'robutler-skill-linked-out': {} }
    const error = await startError(dir, skills, [])
    const messages = (error?.problems ?? []).map((found) => `${found.code} ${found.message}`)
    expect(messages).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/RBT_ERR_MANIFEST_INVALID robutler-skill-worker-out has an invalid manifest: robutler.worker must stay inside the package/),
        expect.stringMatching(/RBT_ERR_MANIFEST_INVALID robutler-skill-config-out has an invalid manifest: robutler.config must stay inside the package, and "\/etc\/passwd" does not: it is absolute/),
        expect.stringMatching(/RBT_ERR_MANIFEST_INVALID robutler-skill-linked-out has an invalid manifest: robutler.config must stay inside the package: .*a link leads out of it/),
      ]),
    )
    expect(messages.join('\n')).not.toMatch(/root:|outside-bytes/)
  })
})

describe('isolated skills (the default outside @robutler/)', () => {
  it('runs the hostile skill in its own processes: every escape fails only its call, and the server stays as it was', async () => {
    const dir = await app([hostilePackage()])
    await writeFile(join(dir, 'secret.txt'), 'an operator file')
    const server = await start(dir, { [HOSTILE]: { grant: { env: ['HOSTILE_GRANTED'] }, hooks: false } }, [{ name: 'host', model: 'local/echo', skills: { [HOSTILE]: {} } }])
    const address = await server.listen({ host: '127.0.0.1', port: 0 })
    const call = (tool: string, args: Record<string, unknown> = {}) => callTool(server, 'host', tool, args)
    const failure = async (tool: string, args: Record<string, unknown> = {}) => {
      const answer = JSON.parse(await call(tool, args))
      expect(answer.error?.code, `${tool} should fail`).toBe('RBT_ERR_TOOL_FAILED')
      return String(answer.error.message)
    }
    const restricted = 'Access to this API has been restricted'
    expect(await call('echo', { text: 'first' })).toBe('echo first')
    const rssBefore = process.memoryUsage().rss

    // The environment holds the granted variables only, through the API and through process.env alike.
    expect(await call('granted_env')).toBe('granted-value')
    expect(await call('read_env', { name: 'HOSTILE_GRANTED' })).toBe('granted-value')
    expect(await call('read_env', { name: 'HOSTILE_SECRET' })).toBe('undefined')
    expect(await call('read_env', { name: 'OPENAI_API_KEY' })).toBe('undefined')
    // Files: its own package, yes; ~/.npmrc and the app's files, no; writes only in its scratch folder.
    expect(await call('read_file', { path: join(dir, 'node_modules', HOSTILE, 'package.json') })).toContain(HOSTILE)
    expect(await failure('read_file', { path: join(homedir(), '.npmrc') })).toContain(restricted)
    expect(await failure('read_file', { path: join(dir, 'secret.txt') })).toContain(restricted)
    expect(await failure('write_file', { path: join(dir, 'written.txt') })).toContain(restricted)
    expect(await failure('write_file', { path: join(dir, 'node_modules', HOSTILE, 'index.js') })).toContain(restricted)
    expect(await call('scratch')).toBe('ok')
    // No processes, no workers, no signals.
    expect(await failure('spawn')).toContain(restricted)
    expect(await failure('start_worker')).toContain(restricted)
    expect(await failure('kill_parent')).toContain('process.kill is not available to an isolated skill')
    // The channel to the server is not the skill's, and a 50 MB result is refused before it crosses.
    expect(await call('ipc')).toBe('undefined')
    expect(await failure('huge')).toContain('more than the 1048576 a tool may return')

    // 2 GB of Buffers: the process is ended at its memory limit while /health keeps answering.
    let healthy = 0
    let unhealthy = 0
    let polling = true
    const poll = (async () => {
      while (polling) {
        const response = await fetch(`${address}/health`)
        await response.arrayBuffer()
        if (response.status === 200) healthy++
        else unhealthy++
        await new Promise((resolve) => setTimeout(resolve, 5))
      }
    })()
    expect(await failure('allocate', { mb: 2048 })).toMatch(/the isolated skill's process held \d+ MB, more than its 256 MB, and was ended/)
    expect(await failure('crash')).toContain("the isolated skill's process ended (exit code 3)")
    // A tool that spins forever is ended at its time limit, its process with it.
    expect(JSON.parse(await call('spin')).error.code).toBe('RBT_ERR_TOOL_TIMEOUT')
    polling = false
    await poll
    expect(healthy).toBeGreaterThan(0)
    expect(unhealthy).toBe(0)
    // Each failure was its call's alone: the skill still answers, and the server holds no more memory than before.
    expect(await call('echo', { text: 'after' })).toBe('echo after')
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(50 * 1024 * 1024)
    expect((await fetch(`${address}/health`)).status).toBe(200)
  }, 60_000)

  it('doctor says which skills run isolated and what each is granted', async () => {
    const dir = await app([hostilePackage()])
    const report = await checkStartup({
      appDir: dir,
      plugins: { [LOCAL_PLUGIN]: {} },
      skills: { [HOSTILE]: { grant: { env: ['HOSTILE_GRANTED'] }, hooks: false } },
      agents: [{ name: 'host', model: 'local/echo', skills: { [HOSTILE]: {} } }],
    }, {})
    expect(report.skills).toEqual([{ name: HOSTILE, isolated: true, permissions: { env: ['HOSTILE_GRANTED'], network: [], kernel: [] } }])
  })

  it('refuses hooks, routes and access from an isolated skill, saying how to run it in process', async () => {
    const dir = await app([hostilePackage()])
    const error = await startError(dir, { [HOSTILE]: { grant: { env: ['HOSTILE_GRANTED'] } } }, [{ name: 'host', model: 'local/echo', skills: { [HOSTILE]: {} } }])
    expect(error?.problems?.map((found) => found.message)).toEqual([
      `Skill '${HOSTILE}' failed to set up for agent 'host': an isolated skill has only tools and prompts, and this one declares hooks, which would run in the server: ` +
        'run it in process with "isolate": false in its entry of the config\'s skills section (only code you trust: docs/security.md)',
    ])
  })
})
