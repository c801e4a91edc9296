// One base URL for every agent, as OpenAI-compatible tools use it: the official openai client with
// `baseURL: http://…/api/v1` (no agent in the URL) lists the agents its key may use as models and talks to one by
// naming it as the model, streamed and not.
import OpenAI from 'openai'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { postJson, startServer, type TestServer } from './helpers/test-server.js'

const keys = {
  'robutler-plugin-keys': {
    keys: { 'key-all': { userId: 'ann', scope: 'all' }, 'key-echo-only': { userId: 'bob', scope: 'all', agents: ['echo'] } },
  },
}

describe('the OpenAI client on one base URL', () => {
  let t: TestServer
  const client = (apiKey: string) => new OpenAI({ baseURL: t.url, apiKey, maxRetries: 0 })

  beforeAll(async () => {
    t = await startServer(['local', 'keys'], {
      urlPrefix: '/api/v1',
      plugins: { '@robutler/plugin-local': {}, ...keys },
      agents: [
        { name: 'echo', model: 'local/echo', description: 'Says it back' },
        { name: 'inspector', model: 'local/inspect', owner: 'ann' },
        { name: 'owners', model: 'local/echo', scopes: ['owner'], owner: 'carol' },
      ],
    })
  })
  afterAll(() => t?.close())

  it('models.list() shows the agents the key may use, in OpenAI list shape', async () => {
    const all = await client('key-all').models.list()
    expect(all.data.map((m) => m.id)).toEqual(['echo', 'inspector'])
    expect(all.data[1]).toEqual({ id: 'inspector', object: 'model', created: expect.any(Number), owned_by: 'ann' })
    expect(all.data[0]!.owned_by).toBe('robutler')
    expect((await client('key-echo-only').models.list()).data.map((m) => m.id)).toEqual(['echo'])
  })

  it('models.retrieve() answers one agent; an unknown one is a 404 the SDK reads', async () => {
    expect(await client('key-all').models.retrieve('echo')).toMatchObject({ id: 'echo', object: 'model' })
    const missing = await client('key-all').models.retrieve('nobody').catch((error: unknown) => error)
    expect(missing).toBeInstanceOf(OpenAI.NotFoundError)
    expect((missing as InstanceType<typeof OpenAI.NotFoundError>).code).toBe('RBT_ERR_MODEL_NOT_FOUND')
    const forbidden = await client('key-echo-only').models.retrieve('inspector').catch((error: unknown) => error)
    expect(forbidden).toBeInstanceOf(OpenAI.PermissionDeniedError)
  })

  it('chat.completions.create({ model: "echo" }) runs that agent, whole and streamed', async () => {
    const openai = client('key-echo-only')
    const whole = await openai.chat.completions.create({ model: 'echo', messages: [{ role: 'user', content: 'one base url' }] })
    expect(whole.choices[0]!.message.content).toBe('one base url')
    expect(whole.model).toBe('local/echo')
    const stream = await openai.chat.completions.create({
      model: 'echo',
      messages: [{ role: 'user', content: 'streamed through it' }],
      stream: true,
      stream_options: { include_usage: true },
    })
    let text = ''
    let usage: OpenAI.CompletionUsage | undefined
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? ''
      usage = chunk.usage ?? usage
    }
    expect(text).toBe('streamed through it')
    expect(usage?.total_tokens).toBeGreaterThan(0)
  })

  it('answers exactly as the agent route does, errors included', async () => {
    const body = { messages: [{ role: 'user', content: 'same either way' }] }
    const viaBase = await postJson(`${t.url}/chat/completions`, { ...body, model: 'echo' })
    const viaAgent = await postJson(`${t.url}/echo/chat/completions`, body)
    const strip = (json: any) => ({ ...json, id: undefined, created: undefined })
    expect(strip(viaBase.json)).toEqual(strip(viaAgent.json))
    const forbidden = await client('key-echo-only').chat.completions.create({ model: 'inspector', messages: body.messages as any }).catch((e: unknown) => e)
    expect(forbidden).toBeInstanceOf(OpenAI.PermissionDeniedError)
    const unknown = await client('key-all').chat.completions.create({ model: 'gpt-4o', messages: body.messages as any }).catch((e: unknown) => e)
    expect(unknown).toBeInstanceOf(OpenAI.NotFoundError)
    expect((unknown as InstanceType<typeof OpenAI.NotFoundError>).param).toBe('model')
    const bad = await postJson(`${t.url}/chat/completions`, { model: 'echo', messages: [] })
    expect([bad.status, bad.json.error.code]).toEqual([400, 'RBT_ERR_INVALID_REQUEST'])
  })
})
