// @robutler/plugin-openai: the real openai SDK over real HTTP against the fake wire server, through a real
// Robutler server whose client is the openai SDK too; and the registered providers on their own.
import { checkStartup, ProviderError, type KernelApi, type ModelDelta, type Provider, type ServerOptions } from '@robutler/kernel'
import plugin from '@robutler/plugin-openai'
import OpenAI from 'openai'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { chatChunk, chatCompletion, startFakeOpenAI, textChunks, usageChunk, USAGE, type FakeOpenAI } from './fixtures/fake-openai.js'
import { linkedApp, startServer, type TestServer } from './helpers/test-server.js'

const OPENAI_KEY = 'sk-test-123'
const GROQ_KEY = 'gsk_live_secret_456'
const PLUGIN = '@robutler/plugin-openai'

/** A temp app with plugin-openai linked in, served on 127.0.0.1:0 under /api/v1 with logs captured. */
function startOpenAIServer(options: ServerOptions): Promise<TestServer> {
  return startServer(['openai'], { urlPrefix: '/api/v1', ...options })
}

/** Runs `fn` with OPENAI_API_KEY set to `value` (undefined: unset), restoring it after. */
async function withEnvKey<T>(value: string | undefined, fn: () => Promise<T>): Promise<T> {
  const saved = process.env.OPENAI_API_KEY
  if (value === undefined) delete process.env.OPENAI_API_KEY
  else process.env.OPENAI_API_KEY = value
  try {
    return await fn()
  } finally {
    if (saved === undefined) delete process.env.OPENAI_API_KEY
    else process.env.OPENAI_API_KEY = saved
  }
}

const WEATHER_TOOL = {
  type: 'function' as const,
  function: { name: 'get_weather', description: 'Weather in a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
}

const SAMPLING = {
  temperature: 0.3,
  top_p: 0.9,
  max_tokens: 50,
  max_completion_tokens: 60,
  stop: ['END', '###'],
  presence_penalty: 0.5,
  frequency_penalty: -0.5,
  seed: 42,
  response_format: { type: 'json_schema', json_schema: { name: 'answer', schema: { type: 'object', properties: { a: { type: 'string' } } }, strict: true } },
  tool_choice: { type: 'function', function: { name: 'get_weather' } },
  parallel_tool_calls: false,
  user: 'user-7',
}

/** Fields outside the default list: they pass through when the agent's `params.allow` names them. */
const EXTRAS = { logit_bias: { '50256': -100 }, reasoning_effort: 'low', vendor_option: { nested: [1, 'two', null] } }

describe('plugin-openai through a Robutler server', () => {
  let fake: FakeOpenAI
  let t: TestServer
  const client = (agent: string) => new OpenAI({ baseURL: `${t.url}/${agent}`, apiKey: 'robutler-client-key', maxRetries: 0 })

  beforeAll(async () => {
    fake = await startFakeOpenAI()
    t = await startOpenAIServer({
      plugins: {
        [PLUGIN]: {
          apiKey: OPENAI_KEY,
          baseURL: `${fake.url}/v1`,
          organization: 'org-test',
          headers: { 'x-team': 'robots' },
          endpoints: {
            ollama: { baseURL: `${fake.url}/ollama/v1`, headers: { 'x-served-by': 'ollama' } },
            groq: { baseURL: `${fake.url}/groq/v1`, apiKey: GROQ_KEY },
          },
        },
      },
      agents: [
        { name: 'gpt', model: 'openai/gpt-4o-mini', instructions: 'Be brief.', params: { allow: [...Object.keys(SAMPLING), ...Object.keys(EXTRAS)] } },
        { name: 'llama', model: 'ollama/llama3.1' },
        { name: 'groq', model: 'groq/llama-3.3-70b' },
      ],
    })
  })
  afterAll(async () => {
    await t?.close()
    await fake?.close()
  })
  beforeEach(() => fake.reset())

  it('passes every sampling field and the extra parameters the agent allows upstream unchanged, with the model after the prefix', async () => {
    fake.script({ json: chatCompletion({ content: '{"a":"b"}' }) })
    const messages = [{ role: 'user' as const, content: 'hello' }]
    await client('gpt').chat.completions.create({ model: 'ignored-by-the-agent', messages, tools: [WEATHER_TOOL], ...SAMPLING, ...EXTRAS } as any)
    expect(fake.requests).toHaveLength(1)
    const [upstream] = fake.requests
    expect(upstream!.method).toBe('POST')
    expect(upstream!.path).toBe('/v1/chat/completions')
    expect(upstream!.body).toEqual({
      ...SAMPLING,
      ...EXTRAS,
      model: 'gpt-4o-mini',
      messages: [{ role: 'system', content: 'Be brief.' }, ...messages],
      tools: [WEATHER_TOOL],
      stream: false,
    })
  })

  it('streams with the same parameters, asking upstream for usage', async () => {
    fake.script({ sse: textChunks('ok') })
    const stream = await client('gpt').chat.completions.create({ model: 'x', messages: [{ role: 'user', content: 'hi' }], stream: true, ...SAMPLING, ...EXTRAS } as any)
    for await (const _ of stream as any);
    expect(fake.requests[0]!.body).toEqual({
      ...SAMPLING,
      ...EXTRAS,
      model: 'gpt-4o-mini',
      messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'hi' }],
      stream: true,
      stream_options: { include_usage: true },
    })
  })

  it('sends the configured key, organization and extra headers, and no OpenAI project', async () => {
    fake.script({ json: chatCompletion({ content: 'hi' }) })
    await client('gpt').chat.completions.create({ model: 'x', messages: [{ role: 'user', content: 'hi' }] })
    const headers = fake.requests[0]!.headers
    expect(headers.authorization).toBe(`Bearer ${OPENAI_KEY}`)
    expect(headers['openai-organization']).toBe('org-test')
    expect(headers['x-team']).toBe('robots')
    expect(headers['openai-project']).toBeUndefined()
    // The SDK retries are off: the kernel's layer is the only one.
    expect(headers['x-stainless-retry-count']).toBe('0')
  })

  it('routes a named endpoint prefix to its baseURL, with its own headers and a placeholder key', async () => {
    fake.script({ json: chatCompletion({ content: 'from llama' }) }, { json: chatCompletion({ content: 'from groq' }) })
    const llama = await client('llama').chat.completions.create({ model: 'x', messages: [{ role: 'user', content: 'hi' }] })
    const groq = await client('groq').chat.completions.create({ model: 'x', messages: [{ role: 'user', content: 'hi' }] })
    expect(llama.choices[0]!.message.content).toBe('from llama')
    expect(groq.choices[0]!.message.content).toBe('from groq')
    const [toLlama, toGroq] = fake.requests
    expect(toLlama!.path).toBe('/ollama/v1/chat/completions')
    expect(toLlama!.body.model).toBe('llama3.1')
    expect(toLlama!.headers['x-served-by']).toBe('ollama')
    expect(toLlama!.headers.authorization).toBe('Bearer robutler-no-key')
    // Nothing of the `openai` prefix leaks to another endpoint.
    expect(toLlama!.headers['openai-organization']).toBeUndefined()
    expect(toLlama!.headers['x-team']).toBeUndefined()
    expect(toGroq!.path).toBe('/groq/v1/chat/completions')
    expect(toGroq!.body.model).toBe('llama-3.3-70b')
    expect(toGroq!.headers.authorization).toBe(`Bearer ${GROQ_KEY}`)
  })

  it('round-trips a client tool call without streaming, with usage', async () => {
    const call = { id: 'call_abc', type: 'function' as const, function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }
    fake.script(
      { json: chatCompletion({ tool_calls: [call], usage: { prompt_tokens: 30, completion_tokens: 9, total_tokens: 39 } }) },
      { json: chatCompletion({ content: 'It is 18°C in Paris.', usage: { prompt_tokens: 45, completion_tokens: 8, total_tokens: 53 } }) },
    )
    const sdk = client('gpt')
    const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: 'user', content: 'Weather in Paris?' }]
    const first = await sdk.chat.completions.create({ model: 'x', messages, tools: [WEATHER_TOOL] })
    expect(first.choices[0]!.finish_reason).toBe('tool_calls')
    expect(first.choices[0]!.message.tool_calls).toEqual([call])
    expect(first.usage).toMatchObject({ prompt_tokens: 30, completion_tokens: 9, total_tokens: 39 })

    messages.push(first.choices[0]!.message as OpenAI.ChatCompletionMessageParam, { role: 'tool', tool_call_id: 'call_abc', content: '18°C, sunny' })
    const second = await sdk.chat.completions.create({ model: 'x', messages, tools: [WEATHER_TOOL] })
    expect(second.choices[0]!.message.content).toBe('It is 18°C in Paris.')
    expect(second.choices[0]!.finish_reason).toBe('stop')
    expect(second.usage).toMatchObject({ prompt_tokens: 45, completion_tokens: 8, total_tokens: 53 })

    const sent = fake.requests[1]!.body.messages
    expect(sent.at(-2)).toMatchObject({ role: 'assistant', tool_calls: [call] })
    expect(sent.at(-1)).toEqual({ role: 'tool', tool_call_id: 'call_abc', content: '18°C, sunny' })
  })

  it('streams two parallel tool calls whose argument deltas interleave, reassembled by the SDK', async () => {
    const tc = (index: number, part: Record<string, unknown>) => chatChunk({ tool_calls: [{ index, ...part }] })
    fake.script({
      sse: [
        chatChunk({ role: 'assistant', content: null }),
        tc(0, { id: 'call_p', type: 'function', function: { name: 'get_weather', arguments: '' } }),
        tc(1, { id: 'call_o', type: 'function', function: { name: 'get_weather', arguments: '' } }),
        tc(0, { function: { arguments: '{"ci' } }),
        tc(1, { function: { arguments: '{"city":' } }),
        tc(0, { function: { arguments: 'ty":"Par' } }),
        tc(1, { function: { arguments: '"Oslo"}' } }),
        tc(0, { function: { arguments: 'is"}' } }),
        chatChunk({}, { finish_reason: 'tool_calls' }),
        usageChunk({ prompt_tokens: 20, completion_tokens: 12, total_tokens: 32 }),
      ],
      delayMs: 2,
    })
    const stream = client('gpt').chat.completions.stream({
      model: 'x',
      messages: [{ role: 'user', content: 'Weather in Paris and Oslo?' }],
      tools: [WEATHER_TOOL],
      stream_options: { include_usage: true },
    })
    const final = await stream.finalChatCompletion()
    const choice = final.choices[0]!
    expect(choice.finish_reason).toBe('tool_calls')
    expect(choice.message.tool_calls).toEqual([
      { id: 'call_p', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
      { id: 'call_o', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } },
    ])
    expect(final.usage).toMatchObject({ prompt_tokens: 20, completion_tokens: 12, total_tokens: 32 })
  })

  it('streams text with the usage chunk last', async () => {
    fake.script({ sse: textChunks('one two three', { usage: { prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 } }) })
    const stream = await client('gpt').chat.completions.create({
      model: 'x',
      messages: [{ role: 'user', content: 'count' }],
      stream: true,
      stream_options: { include_usage: true },
    })
    const chunks: OpenAI.ChatCompletionChunk[] = []
    for await (const chunk of stream) chunks.push(chunk)
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('one two three')
    expect(chunks.filter((c) => c.choices.length > 0).at(-1)!.choices[0]!.finish_reason).toBe('stop')
    expect(chunks.at(-1)!.choices).toEqual([])
    expect(chunks.at(-1)!.usage).toMatchObject({ prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 })
  })

  it('sends the client its first chunk when the upstream starts answering, not at the first token', async () => {
    // The role chunk at once, the first token only after a long pause.
    fake.script({ sse: [chatChunk({ role: 'assistant', content: '' }), chatChunk({ content: 'late' }), chatChunk({}, { finish_reason: 'stop' })], delayMs: [0, 3000, 0] })
    const stream = await client('gpt').chat.completions.create({ model: 'x', messages: [{ role: 'user', content: 'hi' }], stream: true })
    for await (const chunk of stream) {
      expect(chunk.choices[0]!.delta).toMatchObject({ role: 'assistant' })
      break // the client leaves on its first chunk
    }
    await fake.waitFor(() => fake.closed.length === 1)
    // The client had its first chunk while the upstream had sent only its role chunk.
    expect(fake.closed[0]!.chunksSent).toBe(1)
  })

  it('closes the upstream connection when the client disconnects mid-stream', async () => {
    fake.script({ sse: textChunks(Array.from({ length: 200 }, (_, i) => `w${i} `)), delayMs: 20 })
    const stream = await client('gpt').chat.completions.create({ model: 'x', messages: [{ role: 'user', content: 'long' }], stream: true })
    let received = 0
    for await (const chunk of stream) {
      if (chunk.choices[0]?.delta.content) received++
      if (received === 3) break // the SDK aborts its request: the client goes away
    }
    await fake.waitFor(() => fake.closed.length === 1)
    expect(fake.closed[0]).toMatchObject({ request: 1, step: 'sse' })
    expect(fake.closed[0]!.chunksSent).toBeLessThan(50)
    const socket = fake.connections.find((c) => c.id === fake.closed[0]!.connection)!
    expect(socket.closedAt).not.toBeNull()
  })

  it('closes the upstream connection when the client gives up on a stalled whole answer', async () => {
    fake.script({ stall: true })
    const controller = new AbortController()
    const pending = client('gpt')
      .chat.completions.create({ model: 'x', messages: [{ role: 'user', content: 'hi' }] }, { signal: controller.signal })
      .catch((error: unknown) => error)
    await fake.waitFor(() => fake.requests.length === 1)
    controller.abort()
    expect((await pending as Error).constructor.name).toBe('APIUserAbortError')
    await fake.waitFor(() => fake.closed.length === 1)
    expect(fake.closed[0]).toMatchObject({ request: 1, step: 'stall' })
  })

  it('reuses keep-alive connections for consecutive calls', async () => {
    fake.always({ json: chatCompletion({ content: 'again' }) })
    await client('gpt').chat.completions.create({ model: 'x', messages: [{ role: 'user', content: 'warm up' }] })
    for (let i = 0; i < 6; i++) await client('gpt').chat.completions.create({ model: 'x', messages: [{ role: 'user', content: `call ${i}` }] })
    const calls = fake.requests.slice(1)
    expect(calls).toHaveLength(6)
    // One fresh connection per call would be 6; the pool may hold a second socket for back-to-back calls.
    expect(new Set(calls.map((r) => r.connection)).size).toBeLessThanOrEqual(2)
    expect(calls.filter((r) => r.reused).length).toBeGreaterThanOrEqual(5)
  })

  it('keeps the key out of error bodies when the upstream echoes it', async () => {
    fake.always({ error: 401, body: { error: { message: `Incorrect API key provided: ${OPENAI_KEY}.`, type: 'invalid_request_error', param: null, code: 'invalid_api_key' } } })
    const error = (await client('gpt')
      .chat.completions.create({ model: 'x', messages: [{ role: 'user', content: 'hi' }] })
      .catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>
    expect(error).toBeInstanceOf(OpenAI.APIError)
    expect(error.status).toBeGreaterThanOrEqual(400)
    expect(JSON.stringify(error.error)).not.toContain(OPENAI_KEY)
    expect(error.message).not.toContain(OPENAI_KEY)
  })

  it('never writes a configured key to the server log', () => {
    expect(t.logs.length).toBeGreaterThan(0)
    const all = t.logs.join('\n')
    expect(all).not.toContain(OPENAI_KEY)
    expect(all).not.toContain(GROQ_KEY)
  })
})

describe('plugin-openai without an API key', () => {
  let fake: FakeOpenAI
  let t: TestServer

  beforeAll(async () => {
    fake = await startFakeOpenAI()
    t = await withEnvKey(undefined, () =>
      startOpenAIServer({
        plugins: { [PLUGIN]: { baseURL: `${fake.url}/v1`, endpoints: { local: { baseURL: `${fake.url}/local/v1` } } } },
        agents: [
          { name: 'gpt', model: 'openai/gpt-4o' },
          { name: 'local', model: 'local/qwen' },
        ],
      }),
    )
  })
  afterAll(async () => {
    await t?.close()
    await fake?.close()
  })

  it('starts, and each openai call fails with an error naming OPENAI_API_KEY, sending nothing upstream', async () => {
    const client = new OpenAI({ baseURL: `${t.url}/gpt`, apiKey: 'robutler-client-key', maxRetries: 0 })
    const whole = (await client.chat.completions.create({ model: 'x', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>
    expect(whole.status).toBe(502)
    expect(whole.message).toContain('OPENAI_API_KEY')
    const streamed = await (async () => {
      const stream = await client.chat.completions.create({ model: 'x', messages: [{ role: 'user', content: 'hi' }], stream: true })
      for await (const _ of stream);
    })().catch((e: unknown) => e)
    expect(String((streamed as Error).message)).toContain('OPENAI_API_KEY')
    expect(fake.requests).toHaveLength(0)
    expect(t.logs.join('\n')).toContain('OPENAI_API_KEY')
  })

  it('serves named endpoints all the same', async () => {
    fake.script({ json: chatCompletion({ content: 'local answer' }) })
    const client = new OpenAI({ baseURL: `${t.url}/local`, apiKey: 'robutler-client-key', maxRetries: 0 })
    const answer = await client.chat.completions.create({ model: 'x', messages: [{ role: 'user', content: 'hi' }] })
    expect(answer.choices[0]!.message.content).toBe('local answer')
    expect(fake.requests[0]!.body.model).toBe('qwen')
  })
})

describe('plugin-openai timeouts through the server', () => {
  let fake: FakeOpenAI
  let t: TestServer

  beforeAll(async () => {
    fake = await startFakeOpenAI()
    t = await startOpenAIServer({
      requestTimeout: 1,
      plugins: { [PLUGIN]: { apiKey: OPENAI_KEY, baseURL: `${fake.url}/v1`, timeout: 200 } },
      agents: [{ name: 'gpt', model: 'openai/gpt-4o' }],
    })
  })
  afterAll(async () => {
    await t?.close()
    await fake?.close()
  })

  beforeEach(() => fake.reset())

  it('a stalled upstream past the plugin timeout is a 504 for the client', async () => {
    fake.always({ stall: true })
    const client = new OpenAI({ baseURL: `${t.url}/gpt`, apiKey: 'robutler-client-key', maxRetries: 0 })
    const error = (await client.chat.completions.create({ model: 'x', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>
    expect(error.status).toBe(504)
    await fake.waitFor(() => fake.closed.length === fake.requests.length)
  })

  it('a stream cut off by the request timeout ends in an error event, not a finished answer, and closes upstream', async () => {
    fake.script({ sse: textChunks(Array.from({ length: 200 }, (_, i) => `w${i} `)), delayMs: 20 })
    const client = new OpenAI({ baseURL: `${t.url}/gpt`, apiKey: 'robutler-client-key', maxRetries: 0 })
    const stream = await client.chat.completions.create({ model: 'x', messages: [{ role: 'user', content: 'long' }], stream: true })
    const finishes: unknown[] = []
    const error = await (async () => {
      for await (const chunk of stream) if (chunk.choices[0]?.finish_reason) finishes.push(chunk.choices[0].finish_reason)
    })().catch((e: unknown) => e)
    expect(error).toBeInstanceOf(OpenAI.APIError)
    expect(finishes).toEqual([])
    await fake.waitFor(() => fake.closed.length === 1)
    expect(fake.closed[0]!.chunksSent).toBeLessThan(200)
  })
})

describe('plugin-openai config schema', () => {
  let dir: string
  let cleanup: () => Promise<void>

  beforeAll(async () => {
    ;({ dir, cleanup } = await linkedApp(['openai']))
  })
  afterAll(() => cleanup?.())

  const problemsOf = async (config: Record<string, unknown>) => {
    const report = await checkStartup({ appDir: dir, env: {}, plugins: { [PLUGIN]: config }, agents: [{ name: 'a', model: 'openai/gpt-4o' }] })
    return report.problems.map((p) => p.message).join('\n')
  }

  it('accepts the documented keys', async () => {
    expect(
      await problemsOf({
        apiKey: 'k',
        baseURL: 'https://example.test/v1',
        organization: 'org',
        headers: { 'x-a': 'b' },
        timeout: 1000,
        endpoints: { 'vllm.gpu-1': { baseURL: 'http://127.0.0.1:8000/v1', apiKey: 'k', headers: { 'x-b': 'c' } } },
      }),
    ).toBe('')
  })

  it.each([
    ['an unknown key', { apiKeys: 'k' }, /apiKeys/],
    ['an endpoint named openai', { endpoints: { openai: { baseURL: 'http://127.0.0.1/v1' } } }, /endpoints\.openai/],
    ['an endpoint name that is no model prefix', { endpoints: { 'bad/name': { baseURL: 'http://127.0.0.1/v1' } } }, /endpoints must match pattern/],
    ['an endpoint without a baseURL', { endpoints: { ollama: { apiKey: 'k' } } }, /baseURL/],
    ['an unknown endpoint key', { endpoints: { ollama: { baseURL: 'http://127.0.0.1/v1', organization: 'o' } } }, /organization/],
    ['a timeout that is not a whole number of ms', { timeout: 1.5 }, /timeout/],
  ])('refuses %s', async (_, config, pattern) => {
    expect(await problemsOf(config)).toMatch(pattern)
  })
})

describe('plugin-openai providers on their own', () => {
  let fake: FakeOpenAI
  const signal = new AbortController().signal
  const request = (model = 'gpt-4o') => ({ model, messages: [{ role: 'user' as const, content: 'hi' }], params: {} })

  /** Runs the plugin's register against a minimal kernel and returns the providers by prefix. */
  // What the registered plugins asked to run at close (their upstream socket pools).
  const closers: (() => unknown)[] = []

  async function registered(config: Record<string, unknown>): Promise<{ providers: Map<string, Provider>; logs: string[] }> {
    const providers = new Map<string, Provider>()
    const logs: string[] = []
    const log = { info: (m: string) => logs.push(m), warn: (m: string) => logs.push(m), error: (m: string) => logs.push(m), debug: () => {} }
    const onClose = (fn: () => unknown) => void closers.push(fn)
    const kernel = { providers: { register: (prefix: string, provider: Provider) => providers.set(prefix, provider), has: (p: string) => providers.has(p) }, log, env: process.env, onClose } as unknown as KernelApi
    await plugin.register(kernel, config)
    return { providers, logs }
  }

  beforeAll(async () => {
    fake = await startFakeOpenAI()
  })
  afterAll(async () => {
    for (const close of closers.splice(0)) await close()
    await fake?.close()
  })
  beforeEach(() => fake.reset())
  afterEach(() => fake.always(null))

  it('registers openai and one prefix per endpoint', async () => {
    const { providers } = await registered({ apiKey: 'k', endpoints: { ollama: { baseURL: 'http://127.0.0.1:1/v1' }, 'vllm.a': { baseURL: 'http://127.0.0.1:2/v1' } } })
    expect([...providers.keys()]).toEqual(['openai', 'ollama', 'vllm.a'])
  })

  it('takes OPENAI_API_KEY from the environment when apiKey is not configured', async () => {
    fake.script({ json: chatCompletion({ content: 'hi' }) })
    const { providers } = await withEnvKey('sk-from-env-789', () => registered({ baseURL: `${fake.url}/v1` }))
    await providers.get('openai')!.complete(request(), { signal })
    expect(fake.requests[0]!.headers.authorization).toBe('Bearer sk-from-env-789')
  })

  it('without a key, logs what to set and fails calls without the network', async () => {
    const { providers, logs } = await withEnvKey(undefined, () => registered({ baseURL: `${fake.url}/v1` }))
    expect(logs.join('\n')).toContain('OPENAI_API_KEY')
    await expect(providers.get('openai')!.complete(request(), { signal })).rejects.toThrow(/OPENAI_API_KEY/)
    const drain = async () => {
      for await (const _ of providers.get('openai')!.stream(request(), { signal }));
    }
    await expect(drain()).rejects.toThrow(/OPENAI_API_KEY/)
    expect(fake.requests).toHaveLength(0)
  })

  it('maps a whole answer: content, tool calls, refusal, finish reason, usage', async () => {
    const call = { id: 'call_1', type: 'function' as const, function: { name: 'f', arguments: '{}' } }
    fake.script({ json: chatCompletion({ content: 'thinking', tool_calls: [call] }) }, { json: chatCompletion({ content: null, refusal: 'I cannot.' }) })
    const { providers } = await registered({ apiKey: 'k', baseURL: `${fake.url}/v1` })
    const openai = providers.get('openai')!
    expect(await openai.complete(request(), { signal })).toEqual({
      message: { role: 'assistant', content: 'thinking', tool_calls: [call], refusal: null },
      finish_reason: 'tool_calls',
      usage: USAGE,
    })
    expect(await openai.complete(request(), { signal })).toEqual({
      message: { role: 'assistant', content: null, tool_calls: undefined, refusal: 'I cannot.' },
      finish_reason: 'stop',
      usage: USAGE,
    })
  })

  it('yields tool-call deltas as the SDK gives them, interleaved indexes kept, usage from the choice-less chunk', async () => {
    const tc = (index: number, part: Record<string, unknown>) => chatChunk({ tool_calls: [{ index, ...part }] })
    fake.script({
      sse: [
        chatChunk({ role: 'assistant', content: '' }),
        tc(0, { id: 'a', type: 'function', function: { name: 'f', arguments: '' } }),
        tc(1, { id: 'b', type: 'function', function: { name: 'g', arguments: '' } }),
        tc(0, { function: { arguments: '{"x"' } }),
        tc(1, { function: { arguments: '{"y"' } }),
        tc(0, { function: { arguments: ':1}' } }),
        tc(1, { function: { arguments: ':2}' } }),
        chatChunk({}, { finish_reason: 'tool_calls' }),
        usageChunk(),
      ],
    })
    const { providers } = await registered({ apiKey: 'k', baseURL: `${fake.url}/v1` })
    const deltas: ModelDelta[] = []
    for await (const delta of providers.get('openai')!.stream(request(), { signal })) deltas.push(delta)
    expect(deltas).toEqual([
      {}, // the role chunk: the model has started answering
      { tool_calls: [{ index: 0, id: 'a', type: 'function', function: { name: 'f', arguments: '' } }] },
      { tool_calls: [{ index: 1, id: 'b', type: 'function', function: { name: 'g', arguments: '' } }] },
      { tool_calls: [{ index: 0, function: { arguments: '{"x"' } }] },
      { tool_calls: [{ index: 1, function: { arguments: '{"y"' } }] },
      { tool_calls: [{ index: 0, function: { arguments: ':1}' } }] },
      { tool_calls: [{ index: 1, function: { arguments: ':2}' } }] },
      { finish_reason: 'tool_calls' },
      { usage: USAGE },
    ])
  })

  it('throws SDK failures as classified ProviderErrors, after one attempt, the SDK error (status, headers, class name) as cause', async () => {
    const { providers } = await registered({ apiKey: 'k', baseURL: `${fake.url}/v1` })
    const openai = providers.get('openai')!
    type SdkError = InstanceType<typeof OpenAI.APIError>
    const failure = (error: unknown) => {
      expect(error).toBeInstanceOf(ProviderError)
      return error as ProviderError & { cause: SdkError }
    }

    fake.script({ error: 429, headers: { 'retry-after': '7' } })
    const limited = failure(await openai.complete(request(), { signal }).catch((e: unknown) => e))
    expect([limited.kind, limited.status, limited.retryable, limited.retryAfterMs]).toEqual(['rate_limit', 429, true, 7000])
    expect(limited.cause).toBeInstanceOf(OpenAI.RateLimitError)
    expect(limited.cause.status).toBe(429)
    expect(limited.cause.headers?.get('retry-after')).toBe('7')
    expect(limited.cause.name).toBe('RateLimitError')

    fake.always({ error: 500 })
    const failed = failure(await openai.complete(request(), { signal }).catch((e: unknown) => e))
    expect([failed.kind, failed.status, failed.retryable]).toEqual(['server', 500, true])
    expect(failed.cause).toBeInstanceOf(OpenAI.InternalServerError)
    expect(failed.cause.status).toBe(500)
    expect(fake.requests).toHaveLength(2) // maxRetries: 0

    fake.always(null)
    fake.script({ reset: true })
    const reset = failure(await openai.complete(request(), { signal }).catch((e: unknown) => e))
    expect([reset.kind, reset.status, reset.retryable]).toEqual(['connection', null, true])
    expect(reset.cause).toBeInstanceOf(OpenAI.APIConnectionError)
    expect(reset.cause.name).toBe('APIConnectionError')

    fake.script({ error: 400 })
    // A signal of its own: calls leave an abort listener each on the signal they are given, and ten is the limit.
    const refused = failure(await openai.complete(request(), { signal: new AbortController().signal }).catch((e: unknown) => e))
    expect([refused.kind, refused.status, refused.retryable]).toEqual(['client', 400, false])

    fake.script({ error: 503, headers: { 'retry-after': '1' } })
    const drainStream = async () => {
      for await (const _ of openai.stream(request(), { signal }));
    }
    const unavailable = failure(await drainStream().catch((e: unknown) => e))
    expect([unavailable.kind, unavailable.status, unavailable.retryAfterMs]).toEqual(['server', 503, 1000])
    expect(unavailable.cause.status).toBe(503)
    expect(unavailable.cause.headers?.get('retry-after')).toBe('1')
  })

  it('a mid-stream drop surfaces as an error after the deltas already yielded', async () => {
    fake.script({ sse: textChunks('a b c d e f'), dropAfter: 3 })
    const { providers } = await registered({ apiKey: 'k', baseURL: `${fake.url}/v1` })
    const deltas: ModelDelta[] = []
    const error = await (async () => {
      for await (const delta of providers.get('openai')!.stream(request(), { signal })) deltas.push(delta)
    })().catch((e: unknown) => e)
    expect(error).toBeInstanceOf(Error)
    expect(deltas).toEqual([{}, { content: 'a ' }, { content: 'b ' }])
    expect(fake.closed).toHaveLength(0) // the server cut it, not the client
  })

  it('reads the event stream as SSE: events split across writes, CRLF lines, data over two lines, comments; an error object in the stream is a non-retryable server error', async () => {
    const role = JSON.stringify(chatChunk({ role: 'assistant', content: '' }))
    const text = (word: string) => JSON.stringify(chatChunk({ content: word }))
    fake.script((_request, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      const pieces = [
        `: keep-alive comment\r\n\r\ndata: ${role}\r\n\r\n`,
        `data: ${text('héllo').slice(0, 40)}`,
        `${text('héllo').slice(40)}\n\nevent: message\ndata: {"id":"x","object":"chat.completion.chunk","created":1,\ndata: "model":"m","choices":[{"index":0,"delta":{"content":" wörld"},"finish_reason":null}]}\n\n`,
        `data: ${JSON.stringify(chatChunk({}, { finish_reason: 'stop' }))}\n\ndata: ${JSON.stringify(usageChunk())}\n\ndata: [DONE]\n\n`,
      ]
      // One multi-byte character cut in half between two writes.
      const bytes = Buffer.from(pieces.join(''))
      const cut = bytes.indexOf(Buffer.from('é')) + 1
      res.write(bytes.subarray(0, cut))
      setTimeout(() => res.end(bytes.subarray(cut)), 20)
    })
    const { providers } = await registered({ apiKey: 'k', baseURL: `${fake.url}/v1` })
    const deltas: ModelDelta[] = []
    for await (const delta of providers.get('openai')!.stream(request(), { signal })) deltas.push(delta)
    expect(deltas).toEqual([{}, { content: 'héllo' }, { content: ' wörld' }, { finish_reason: 'stop' }, { usage: USAGE }])
    // A stream read to [DONE] hands its socket back to the pool: the next call reuses it.
    fake.script({ sse: textChunks('again') })
    for await (const _ of providers.get('openai')!.stream(request(), { signal }));
    expect(fake.requests.at(-1)!.reused).toBe(true)

    fake.script({ sse: [chatChunk({ content: 'a' }), { error: { message: 'the model overloaded', type: 'server_error' } }] })
    const seen: ModelDelta[] = []
    const error = (await (async () => {
      for await (const delta of providers.get('openai')!.stream(request(), { signal })) seen.push(delta)
    })().catch((e: unknown) => e)) as ProviderError
    expect(seen).toEqual([{ content: 'a' }])
    expect(error).toBeInstanceOf(ProviderError)
    expect([error.kind, error.retryable]).toEqual(['server', false])
    expect(error.cause).toBeInstanceOf(OpenAI.APIError)
    expect(error.message).toContain('the model overloaded')
  })

  it('times out a stalled upstream with the configured timeout, as a timeout ProviderError (APIConnectionTimeoutError), closing the socket', async () => {
    fake.script({ stall: true })
    const { providers } = await registered({ apiKey: 'k', baseURL: `${fake.url}/v1`, timeout: 200 })
    const started = Date.now()
    const error = (await providers.get('openai')!.complete(request(), { signal }).catch((e: unknown) => e)) as ProviderError
    expect(error).toBeInstanceOf(ProviderError)
    expect([error.kind, error.retryable]).toEqual(['timeout', false])
    expect(error.cause).toBeInstanceOf(OpenAI.APIConnectionTimeoutError)
    expect((error.cause as Error).name).toBe('APIConnectionTimeoutError')
    expect(Date.now() - started).toBeLessThan(2000)
    await fake.waitFor(() => fake.closed.length === 1)
  })

  it('an aborted signal closes the upstream connection of a stream', async () => {
    fake.script({ sse: textChunks(Array.from({ length: 100 }, (_, i) => `w${i} `)), delayMs: 10 })
    const { providers } = await registered({ apiKey: 'k', baseURL: `${fake.url}/v1` })
    const controller = new AbortController()
    const error = await (async () => {
      for await (const delta of providers.get('openai')!.stream(request(), { signal: controller.signal })) {
        if (delta.content === 'w2 ') controller.abort()
      }
    })().catch((e: unknown) => e)
    expect((error as Error).name).toBe('APIUserAbortError')
    await fake.waitFor(() => fake.closed.length === 1)
  })
})
