// Which request fields reach the provider, on the operator's key: the agent's `params` over `server.params`,
// through a real server, the openai SDK as the client and plugin-openai against the fake OpenAI wire server, which
// records what arrived upstream. And the same rule for a protocol surface a plugin adds (the loop's session).
import { createServer, DEFAULT_ALLOWED_PARAMS } from '@robutler/kernel'
import OpenAI from 'openai'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { chatCompletion, startFakeOpenAI, textChunks, type FakeOpenAI } from './fixtures/fake-openai.js'
import { linkedApp, postJson, startServer, type TestServer } from './helpers/test-server.js'

const hi = [{ role: 'user' as const, content: 'hi' }]

describe('params policy', () => {
  let fake: FakeOpenAI
  let t: TestServer
  const client = (agent: string) => new OpenAI({ baseURL: `${t.url}/${agent}`, apiKey: 'client-key', maxRetries: 0 })
  const base = () => new OpenAI({ baseURL: t.url, apiKey: 'client-key', maxRetries: 0 })
  /** The body the upstream got for the only request it saw. */
  const upstream = () => {
    expect(fake.requests).toHaveLength(1)
    return fake.requests[0]!.body as Record<string, unknown>
  }
  const refusal = async (promise: Promise<unknown>) => {
    const error = (await promise.then(() => null, (e: unknown) => e)) as InstanceType<typeof OpenAI.APIError> | null
    expect(error, 'the request was refused').toBeInstanceOf(OpenAI.APIError)
    return { status: error!.status, ...(error!.error as { code: string; param: string; message: string }) }
  }

  beforeAll(async () => {
    fake = await startFakeOpenAI()
    t = await startServer(['openai', 'shout'], {
      urlPrefix: '/v1',
      plugins: { '@robutler/plugin-openai': { apiKey: 'sk-operator', baseURL: `${fake.url}/v1` }, 'robutler-plugin-shout': {} },
      // The server's default: one field more than the ordinary ones.
      params: { allow: [...DEFAULT_ALLOWED_PARAMS, 'logprobs'] },
      agents: [
        { name: 'plain', model: 'openai/gpt-4o-mini' },
        { name: 'capped', model: 'openai/gpt-4o-mini', params: { maxTokens: 4096, defaults: { temperature: 0.2 }, force: { store: false, service_tier: 'default' } } },
        { name: 'lenient', model: 'openai/gpt-4o-mini', params: { refused: 'drop', maxTokens: 1000 } },
        { name: 'thinker', model: 'openai/o4-mini', params: { allow: ['reasoning_effort', 'max_completion_tokens'] } },
      ],
    })
  })
  afterAll(async () => {
    await t?.close()
    await fake?.close()
  })
  const reset = () => {
    fake.reset()
    fake.always({ json: chatCompletion({ content: 'ok' }) })
  }
  beforeEach(reset)

  it('by default the ordinary sampling fields pass, unchanged', async () => {
    const sampling = { temperature: 0.3, top_p: 0.9, max_tokens: 50, stop: ['END'], seed: 7, presence_penalty: 0.1, frequency_penalty: 0.2, user: 'u-1', logprobs: true }
    await client('plain').chat.completions.create({ model: 'x', messages: hi, ...sampling })
    expect(upstream()).toMatchObject(sampling)
  })

  it.each([
    ['service_tier', 'priority'],
    ['store', true],
    ['metadata', { team: 'a' }],
    ['reasoning_effort', 'high'],
    ['prediction', { type: 'content', content: 'x' }],
  ])('%s, which costs more or stores data at the provider, is a 400 naming it; nothing reaches the upstream', async (field, value) => {
    for (const answer of [
      refusal(client('plain').chat.completions.create({ model: 'x', messages: hi, [field]: value } as never)),
      refusal(base().chat.completions.create({ model: 'plain', messages: hi, [field]: value } as never)),
      refusal(base().chat.completions.create({ model: 'plain', messages: hi, stream: true, [field]: value } as never)),
    ]) {
      expect(await answer).toEqual({ status: 400, code: 'RBT_ERR_PARAM_NOT_ALLOWED', param: field, type: 'invalid_request_error', message: `Parameter '${field}' is not allowed on agent 'plain'` })
    }
    expect(fake.requests).toHaveLength(0)
  })

  it('a field set to null is no field: dropped, not refused', async () => {
    await client('plain').chat.completions.create({ model: 'x', messages: hi, service_tier: null, store: null } as never)
    expect(upstream()).not.toHaveProperty('service_tier')
    expect(upstream()).not.toHaveProperty('store')
  })

  it('max_tokens above the agent cap is a 400 naming it; within it passes; with none the cap is sent', async () => {
    for (const field of ['max_tokens', 'max_completion_tokens']) {
      const error = await refusal(client('capped').chat.completions.create({ model: 'x', messages: hi, [field]: 1e8 } as never))
      expect(error).toMatchObject({ status: 400, code: 'RBT_ERR_PARAM_ABOVE_LIMIT', param: field, message: `Parameter '${field}' may be at most 4096 on agent 'capped'` })
    }
    expect(fake.requests).toHaveLength(0)
    await client('capped').chat.completions.create({ model: 'x', messages: hi, max_tokens: 100 })
    expect(upstream()).toMatchObject({ max_tokens: 100 })
    expect(upstream()).not.toHaveProperty('max_completion_tokens')
    reset()
    await client('capped').chat.completions.create({ model: 'x', messages: hi })
    expect(upstream()).toMatchObject({ max_completion_tokens: 4096 })
  })

  it('defaults apply when the client sets none; forced values win over what the client sent', async () => {
    await client('capped').chat.completions.create({ model: 'x', messages: hi, store: true } as never)
    expect(upstream()).toMatchObject({ temperature: 0.2, store: false, service_tier: 'default' })
    reset()
    await client('capped').chat.completions.create({ model: 'x', messages: hi, temperature: 0.9 })
    expect(upstream()).toMatchObject({ temperature: 0.9, store: false })
  })

  it('an agent that drops refused fields sends the rest, and lowers a token count to its cap', async () => {
    fake.script({ sse: textChunks('ok') })
    const stream = await client('lenient').chat.completions.create({ model: 'x', messages: hi, stream: true, service_tier: 'priority', store: true, temperature: 0.5, max_tokens: 1e8 } as never)
    for await (const _ of stream as unknown as AsyncIterable<unknown>);
    const body = upstream()
    expect(body).toMatchObject({ stream: true, temperature: 0.5, max_tokens: 1000 })
    expect(body).not.toHaveProperty('service_tier')
    expect(body).not.toHaveProperty('store')
  })

  it("an agent's own allow list replaces the server's: its fields pass, the others are refused", async () => {
    await client('thinker').chat.completions.create({ model: 'x', messages: hi, reasoning_effort: 'low', max_completion_tokens: 300 } as never)
    expect(upstream()).toMatchObject({ reasoning_effort: 'low', max_completion_tokens: 300 })
    expect(await refusal(client('thinker').chat.completions.create({ model: 'x', messages: hi, temperature: 1 }))).toMatchObject({ param: 'temperature' })
  })

  it("a plugin's protocol surface gets the same rule: its run is refused with the field named", async () => {
    const res = await postJson(`${t.url}/shout`, { model: 'plain', text: 'x', params: { store: true } })
    expect([res.status, res.json.error.code, res.json.error.param]).toEqual([400, 'RBT_ERR_PARAM_NOT_ALLOWED', 'store'])
    expect(fake.requests).toHaveLength(0)
  })
})

describe('params policy in the config', () => {
  it.each([
    [{ allow: ['temperature', 'messages'] }, "params.allow names 'messages', a field of the request itself"],
    [{ maxTokens: 100, force: { max_tokens: 200 } }, 'params.force.max_tokens is 200, above maxTokens 100'],
    [{ allow: ['Temperature'] }, '/params/allow/0 must match pattern'],
    [{ refused: 'ignore' }, '/params/refused must be one of error, drop'],
    [{ caps: { max_tokens: 10 } }, "/params has unknown key 'caps'"],
  ])('an agent whose params are wrong does not start: %j', async (params, problem) => {
    const app = await linkedApp(['openai'])
    try {
      const error = await createServer({
        appDir: app.dir,
        logLevel: 'silent',
        env: {},
        plugins: { '@robutler/plugin-openai': { apiKey: 'sk-x' } },
        agents: [{ name: 'a', model: 'openai/gpt-4o', params: params as never }],
      }).then(
        () => null,
        (e: Error) => e,
      )
      expect(error?.message).toContain(problem)
    } finally {
      await app.cleanup()
    }
  })
})
