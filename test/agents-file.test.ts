// @robutler/plugin-agents-file over a real server: agents from a folder of JSON files, served within a second of
// a change, running streams finishing on the config they started with, bad files answered per agent.
import { mkdir, rename, rm, symlink, writeFile } from 'node:fs/promises'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AGENTS_FILE, startAgentsServer, within, type AgentsServer } from './helpers/agents-app.js'
import { loggedAbout, postJson, readSse } from './helpers/test-server.js'

const LOCAL = '@robutler/plugin-local'

/** Long enough that a stream of it at 20 ms a word runs for over a second. */
const OLD = `old ${'version '.repeat(60)}`.trim()
const NEW = 'new version'

describe('plugin-agents-file', () => {
  let t: AgentsServer
  let agents: string

  const write = (name: string, config: unknown) => writeFile(join(agents, `${name}.json`), typeof config === 'string' ? config : JSON.stringify(config))
  /** How editors save: a temp file renamed over the old one. */
  const replace = async (name: string, config: unknown) => {
    const temp = join(agents, `.${name}.json.swp`)
    await writeFile(temp, JSON.stringify(config))
    await rename(temp, join(agents, `${name}.json`))
  }
  const chat = (agent: string, content = 'hi') => postJson(`${t.url}/${agent}/chat/completions`, { messages: [{ role: 'user', content }] })
  /** The system message the agent's model received, through the local/inspect model; null when there is none. */
  const instructionsOf = async (agent: string): Promise<string | null> => {
    const { status, json } = await chat(agent)
    if (status !== 200) return `status ${status}`
    const seen = JSON.parse(json.choices[0].message.content)
    return seen.messages[0].role === 'system' ? seen.messages[0].content : null
  }
  const warnings = () => t.logs.map((line) => JSON.parse(line)).filter((entry) => entry.level === 'warn')

  beforeAll(async () => {
    t = await startAgentsServer(
      ['agentsFile'],
      {
        urlPrefix: '/api/v1',
        plugins: { [LOCAL]: { chunkDelayMs: 20 }, [AGENTS_FILE]: {} },
        agents: [{ name: 'static', model: 'local/echo' }],
      },
      async (dir) => {
        await mkdir(join(dir, 'agents'))
        await writeFile(join(dir, 'agents', 'alpha.json'), JSON.stringify({ model: 'local/echo', description: 'from a file' }))
      },
    )
    agents = join(t.dir, 'agents')
  })
  afterAll(() => t?.close())

  it('serves an agent file from ./agents, relative to the app folder, and reports its folder readable', async () => {
    const { status, json } = await chat('alpha', 'hello from a file')
    expect(status).toBe(200)
    expect(json.choices[0].message.content).toBe('hello from a file')
    const info = await fetch(`${t.url}/alpha`).then((r) => r.json())
    expect(info).toMatchObject({ name: 'alpha', description: 'from a file', model: 'local/echo' })
    const ready = await fetch(`${t.url}/ready`)
    expect(ready.status).toBe(200)
    expect((await ready.json()).checks['agents-file']).toMatchObject({ status: 'ok' })
    expect((await chat('nobody')).json.error.code).toBe('RBT_ERR_AGENT_NOT_FOUND')
  })

  it('GET /agents and GET /models list the folder’s agents after the static ones', async () => {
    const agents = await fetch(`${t.url}/agents`).then((r) => r.json())
    expect(agents.data.map((agent: { name: string }) => agent.name).slice(0, 2)).toEqual(['static', 'alpha'])
    expect(agents.data[1]).toMatchObject({ name: 'alpha', description: 'from a file', model: 'local/echo' })
    expect(agents).toMatchObject({ dynamic_agents_enabled: true, dynamic_agents_listed: true, unlisted_loaders: [] })
    const models = await fetch(`${t.url}/models`).then((r) => r.json())
    expect(models.data.map((model: { id: string }) => model.id).slice(0, 2)).toEqual(['static', 'alpha'])
  })

  it('a file added after its name was asked for is served within 1 s', async () => {
    expect((await chat('late')).status).toBe(404)
    await write('late', { model: 'local/echo' })
    await within(1000, async () => (await chat('late')).status === 200, 'the new agent served')
  })

  it('an edit while streams run: running streams finish on the old config, new requests see the new one within 1 s', async () => {
    await write('editing', { model: 'local/inspect', instructions: OLD })
    await within(1000, async () => (await instructionsOf('editing')) === OLD, 'the first version served')

    const body = JSON.stringify({ stream: true, messages: [{ role: 'user', content: 'hi' }] })
    const streams = await Promise.all(
      [1, 2, 3].map(() => fetch(`${t.url}/editing/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })),
    )
    const reading = streams.map((response) => readSse(response).then((sse) => ({ ...sse, endedAt: Date.now() })))

    await replace('editing', { model: 'local/inspect', instructions: NEW })
    const editedAt = Date.now()
    await within(1000, async () => (await instructionsOf('editing')) === NEW, 'the edit served')

    for (const { events, done, endedAt } of await Promise.all(reading)) {
      expect(done).toBe(true)
      expect(endedAt).toBeGreaterThan(editedAt)
      const text = events.map((event) => event.choices?.[0]?.delta?.content ?? '').join('')
      expect(JSON.parse(text).messages[0]).toEqual({ role: 'system', content: OLD })
    }
  })

  it('a deleted file is a 404 within 1 s', async () => {
    await write('gone', { model: 'local/echo' })
    await within(1000, async () => (await chat('gone')).status === 200, 'the agent served')
    await rm(join(agents, 'gone.json'))
    await within(1000, async () => (await chat('gone')).status === 404, 'the deleted agent gone')
    expect((await chat('gone')).json.error.code).toBe('RBT_ERR_AGENT_NOT_FOUND')
  })

  it('a file that is not JSON is logged and the last good version keeps serving, until it is fixed', async () => {
    await write('typo', { model: 'local/inspect', instructions: 'good' })
    await within(1000, async () => (await instructionsOf('typo')) === 'good', 'the good version served')

    await write('typo', '{ "model": "local/inspect", "instructions": ')
    const file = join(agents, 'typo.json')
    await within(1000, () => warnings().some((entry) => entry.file === file), 'a warning about the file')
    const warning = warnings().find((entry) => entry.file === file)
    expect(warning.msg).toContain(file)
    expect(warning.msg).toMatch(/not valid JSON \(.*JSON.*\)/)
    expect(warning.msg).toContain('last good version keeps serving')
    expect(warning.error).toMatch(/JSON/)
    // Served from the last good version, however often it is asked.
    for (let i = 0; i < 5; i++) expect(await instructionsOf('typo')).toBe('good')
    expect(warnings().filter((entry) => entry.file === file)).toHaveLength(1)

    await write('typo', { model: 'local/inspect', instructions: 'fixed' })
    await within(1000, async () => (await instructionsOf('typo')) === 'fixed', 'the fixed version served')
  })

  it('a file no request can reach (a reserved or invalid agent name) is reported once and never served', async () => {
    await write('live', { model: 'local/echo' })
    await write('Upper', { model: 'local/echo' })
    const ignored = (name: string) => warnings().filter((entry) => entry.file === join(agents, `${name}.json`))
    await within(1000, () => ignored('live').length > 0 && ignored('Upper').length > 0, 'warnings about both files')
    expect(ignored('live')[0].msg).toContain("is ignored: 'live' is a route of its own")
    expect(ignored('Upper')[0].msg).toContain('is ignored: agent names are')
    await write('live', { model: 'local/echo', description: 'again' })
    await new Promise((resolve) => setTimeout(resolve, 150))
    expect(ignored('live')).toHaveLength(1)
    expect((await fetch(`${t.url}/live`)).status).toBe(200)
    expect(await fetch(`${t.url}/live`).then((r) => r.json())).toEqual({ status: 'alive' })
  })

  it('a new file that is not JSON, with no good version yet, is an error for that agent: the detail in the log only', async () => {
    await write('broken', '{ nope')
    const { status, json, headers } = await chat('broken')
    expect(status).toBe(500)
    expect(json.error.code).toBe('RBT_ERR_AGENT_INVALID')
    expect(json.error.message).toBe(`Agent 'broken' is misconfigured: the server log names the problems (request ${headers.get('x-request-id')})`)
    const logged = loggedAbout(t.logs, headers.get('x-request-id'))
    expect(logged).toContain(`${agents}/broken.json`)
    expect(logged).toContain('not valid JSON')
  })

  it("a file that is a link to another file (/etc/hostname) shows the client neither the path nor the file's bytes", async () => {
    await symlink('/etc/hostname', join(agents, 'linked.json'))
    const res = await chat('linked')
    expect(res.json.error.code).toBe('RBT_ERR_AGENT_INVALID')
    expect(res.text).not.toContain(agents)
    expect(res.text).not.toContain(hostname())
    expect(loggedAbout(t.logs, res.headers.get('x-request-id'))).toContain('linked.json')
  })

  it('an unknown skill, an invalid model string or a mismatched name is a per-agent error; other agents keep serving', async () => {
    await write('badskill', { model: 'local/echo', skills: { '@acme/skill-nope': {} } })
    await write('badmodel', { model: 'gpt-4o' })
    await write('noprovider', { model: 'nowhere/x' })
    await write('misnamed', { name: 'alpha', model: 'local/echo' })

    const cases: Array<[string, RegExp]> = [
      ['badskill', /skill '@acme\/skill-nope' is not installed or not enabled/],
      ['badmodel', /model/],
      ['noprovider', /provider 'nowhere'/],
      ['misnamed', /misnamed\.json has "name": "alpha"; it must be 'misnamed'/],
    ]
    for (const [agent, problem] of cases) {
      const { status, json, headers } = await chat(agent)
      expect(status, agent).toBe(500)
      expect(json.error).toMatchObject({ code: 'RBT_ERR_AGENT_INVALID', type: 'configuration_error' })
      expect(json.error.message).toBe(`Agent '${agent}' is misconfigured: the server log names the problems (request ${headers.get('x-request-id')})`)
      expect(loggedAbout(t.logs, headers.get('x-request-id'))).toMatch(problem)
    }
    expect((await chat('alpha', 'still here')).json.choices[0].message.content).toBe('still here')
    expect((await chat('static', 'me too')).json.choices[0].message.content).toBe('me too')

    // Fixing the record fixes the agent.
    await replace('badskill', { model: 'local/echo' })
    await within(1000, async () => (await chat('badskill')).status === 200, 'the fixed agent served')
  })
})

describe('plugin-agents-file with a folder that does not exist yet', () => {
  let t: AgentsServer

  beforeAll(async () => {
    t = await startAgentsServer(['agentsFile'], { plugins: { [LOCAL]: {}, [AGENTS_FILE]: { dir: 'later/agents', priority: 5 } } })
  })
  afterAll(() => t?.close())

  it('is not ready, answers 404, then serves the folder once it appears', async () => {
    const ready = await fetch(`${t.url}/ready`)
    expect(ready.status).toBe(503)
    const body = await ready.json()
    expect(body.failing).toEqual(['agents-file'])
    expect(JSON.stringify(body.checks['agents-file'])).toContain(join(t.dir, 'later', 'agents'))
    expect((await postJson(`${t.url}/first/chat/completions`, { messages: [{ role: 'user', content: 'x' }] })).status).toBe(404)
    expect(t.logs.some((line) => line.includes('cannot be watched'))).toBe(true)

    await mkdir(join(t.dir, 'later', 'agents'), { recursive: true })
    await writeFile(join(t.dir, 'later', 'agents', 'first.json'), JSON.stringify({ model: 'local/echo' }))
    // The folder is looked for every second; a file in it is then served (the rescan invalidates it).
    await within(3000, async () => (await postJson(`${t.url}/first/chat/completions`, { messages: [{ role: 'user', content: 'x' }] })).status === 200, 'the agent served')
    expect((await fetch(`${t.url}/ready`)).status).toBe(200)
    // Watched from then on.
    await writeFile(join(t.dir, 'later', 'agents', 'second.json'), JSON.stringify({ model: 'local/echo' }))
    await within(1000, async () => (await postJson(`${t.url}/second/chat/completions`, { messages: [{ role: 'user', content: 'x' }] })).status === 200, 'a later file served')
  })
})
