// @robutler/plugin-messages: the Anthropic Messages API as a surface, driven by the real @anthropic-ai/sdk over
// HTTP: agents on plugin-local, on an OpenAI-compatible endpoint (the fake OpenAI wire, through plugin-openai) and
// on Anthropic (the fake Anthropic wire, through plugin-anthropic); errors as the SDK's classes; streams with pings.
import Anthropic, {
  AuthenticationError,
  BadRequestError,
  ContentTooLargeError,
  InternalServerError,
  NotFoundError,
  OverloadedError,
  PermissionDeniedError,
  RateLimitError,
} from '@anthropic-ai/sdk'
import { DEFAULT_ALLOWED_PARAMS } from '@robutler/kernel'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { chatCompletion, chatChunk, startFakeOpenAI, textChunks, type FakeOpenAI } from './fixtures/fake-openai.js'
import { startFakeAnthropic, textEvents, type FakeAnthropic } from './fixtures/fake-anthropic.js'
import { getJson, postJson, startServer, type TestServer } from './helpers/test-server.js'

const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=='
const ANN = 'key-ann'
const keys = { keys: { [ANN]: { userId: 'ann', scope: 'all' }, 'key-bob': { userId: 'bob', scope: 'all', agents: ['echo'] } } }
const weather = { name: 'get_weather', description: 'Weather of a city', input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } }
const cpu = { 'robutler-skill-cpu': {} }

/** The text of a message's text blocks. */
function textOf(message: Anthropic.Message): string {
  return message.content.map((block) => (block.type === 'text' ? block.text : '')).join('')
}

/** The SSE events of a raw response: `{ event, data }` each. */
async function sseEvents(response: Response): Promise<Array<{ event: string; data: any }>> {
  const raw = await response.text()
  return raw
    .split('\n\n')
    .filter((block) => block.startsWith('event: '))
    .map((block) => {
      const [head, body] = block.split('\n')
      return { event: head!.slice(7), data: JSON.parse(body!.slice(6)) }
    })
}

describe('the Messages API surface', () => {
  let t: TestServer
  let openai: FakeOpenAI
  let upstream: FakeAnthropic
  let client: Anthropic
  const url = () => `${t.url}/v1/messages`
  /** A client tool round trip's second turn: the question, the model's tool_use turn, the tool's result. */
  const answerTool = (model: string, question: string, first: Anthropic.Message, id: string, result: Anthropic.ToolResultBlockParam['content']) =>
    client.messages.create({
      model,
      max_tokens: 300,
      tools: [weather],
      messages: [
        { role: 'user', content: question },
        { role: 'assistant', content: first.content },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: id, content: result }] },
      ],
    })

  beforeAll(async () => {
    openai = await startFakeOpenAI()
    upstream = await startFakeAnthropic()
    t = await startServer(['local', 'messages', 'openai', 'anthropic', 'keys', 'rateLimit', 'cpu'], {
      urlPrefix: '/api/v1',
      maxRequestSize: '256KB',
      workerThreads: 1,
      workerQueue: 1,
      plugins: {
        '@robutler/plugin-local': {},
        '@robutler/plugin-messages': { pingInterval: 0.1 },
        '@robutler/plugin-openai': { endpoints: { fake: { baseURL: `${openai.url}/v1` } } },
        '@robutler/plugin-anthropic': { apiKey: 'sk-ant-upstream', baseURL: upstream.url },
        '@robutler/plugin-rate-limit': { max: 10_000, agents: { limited: { max: 1, timeWindow: '1 minute' } } },
        'robutler-plugin-keys': keys,
      },
      agents: [
        { name: 'echo', model: 'local/echo', instructions: 'Be brief.' },
        { name: 'inspector', model: 'local/inspect', params: { allow: [...DEFAULT_ALLOWED_PARAMS, 'reasoning_effort'] } },
        { name: 'gpt', model: 'fake/gpt-x' },
        // Thinking costs more: the operator allows it on this agent (issue 16's request-field policy).
        { name: 'claude', model: 'anthropic/claude-x', params: { allow: [...DEFAULT_ALLOWED_PARAMS, 'reasoning_effort'] } },
        { name: 'limited', model: 'local/echo' },
        { name: 'cpu', model: 'local/echo', skills: cpu },
      ],
      dynamicAgents: (name) => (name === 'broken' ? { name, model: 'nowhere/x' } : null),
    })
    client = new Anthropic({ baseURL: t.url, apiKey: ANN, maxRetries: 0 })
  })
  afterEach(() => {
    openai.reset()
    upstream.reset()
  })
  afterAll(async () => {
    await t?.close()
    await openai?.close()
    await upstream?.close()
  })

  describe('messages.create', () => {
    it('answers a text message: content, stop_reason end_turn, usage with cache fields as zero', async () => {
      const message = await client.messages.create({ model: 'echo', max_tokens: 100, messages: [{ role: 'user', content: 'Hello there!' }] })
      expect(message).toMatchObject({ type: 'message', role: 'assistant', model: 'local/echo', stop_reason: 'end_turn', stop_sequence: null })
      expect(message.id).toMatch(/^msg_/)
      expect(message.content).toEqual([{ type: 'text', text: 'Hello there!', citations: null }])
      expect(message.usage).toEqual({ input_tokens: 4, output_tokens: 2, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 })
    })

    it('the agent path serves the same, whatever model the body names', async () => {
      const agentClient = new Anthropic({ baseURL: `${t.url}/echo`, apiKey: ANN, maxRetries: 0 })
      const message = await agentClient.messages.create({ model: 'anything', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] })
      expect(textOf(message)).toBe('hi')
    })

    it('system (string or blocks), images (base64 and URL), sampling fields and metadata reach the model in chat terms', async () => {
      const message = await client.messages.create({
        model: 'inspector',
        max_tokens: 77,
        system: [{ type: 'text', text: 'First.' }, { type: 'text', text: 'Second.', cache_control: { type: 'ephemeral' } }],
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'What is this?' },
              { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG } },
              { type: 'image', source: { type: 'url', url: 'https://example.com/cat.png' } },
            ],
          },
        ],
        stop_sequences: ['END'],
        temperature: 0.5,
        top_p: 0.9,
        top_k: 5,
        metadata: { user_id: 'user-7' },
        thinking: { type: 'enabled', budget_tokens: 10_000 },
      })
      const seen = JSON.parse(textOf(message))
      expect(seen.messages).toEqual([
        { role: 'system', content: 'First.\n\nSecond.' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is this?' },
            { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG}` } },
            { type: 'image_url', image_url: { url: 'https://example.com/cat.png' } },
          ],
        },
      ])
      expect(seen.params).toEqual({ max_tokens: 77, stop: ['END'], temperature: 0.5, top_p: 0.9, top_k: 5, user: 'user-7', reasoning_effort: 'medium' })
    })

    it('a client tool round trip: tool_use for the client, its tool_result back to the model', async () => {
      const first = await client.messages.create({
        model: 'echo',
        max_tokens: 100,
        tools: [weather],
        messages: [{ role: 'user', content: '/tool get_weather {"city": "Paris"}' }],
      })
      expect(first.stop_reason).toBe('tool_use')
      const call = first.content.find((block) => block.type === 'tool_use') as Anthropic.ToolUseBlock
      expect(call).toMatchObject({ type: 'tool_use', name: 'get_weather', input: { city: 'Paris' } })
      const second = await answerTool('echo', '/tool get_weather {"city": "Paris"}', first, call.id, [{ type: 'text', text: '18°C and sunny' }])
      expect([textOf(second), second.stop_reason]).toEqual(['18°C and sunny', 'end_turn'])
      const failed = await client.messages.create({
        model: 'echo',
        max_tokens: 100,
        messages: [
          { role: 'user', content: 'go' },
          { role: 'assistant', content: [{ type: 'thinking', thinking: 'plan', signature: 'sig' }, { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: {} }] },
          { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'city missing', is_error: true }] },
        ],
      })
      expect(textOf(failed)).toBe('Error: city missing')
    })

    it('internal tools run inside the agent: the client sees only the answer', async () => {
      const message = await client.messages.create({ model: 'cpu', max_tokens: 100, messages: [{ role: 'user', content: '/tool primes {"below": 100}' }] })
      expect(JSON.parse(textOf(message))).toEqual({ below: 100, count: 25 })
      expect(message.content.every((block) => block.type === 'text')).toBe(true)
    })

    it('a stop sequence: stop_reason stop_sequence naming it; max_tokens reached: stop_reason max_tokens', async () => {
      const stopped = await client.messages.create({ model: 'echo', max_tokens: 100, stop_sequences: ['three'], messages: [{ role: 'user', content: 'one two three four' }] })
      expect([textOf(stopped), stopped.stop_reason, stopped.stop_sequence]).toEqual(['one two ', 'stop_sequence', 'three'])
      const cut = await client.messages.create({ model: 'echo', max_tokens: 2, messages: [{ role: 'user', content: 'one two three four' }] })
      expect([textOf(cut), cut.stop_reason, cut.stop_sequence]).toEqual(['one two', 'max_tokens', null])
    })

    it('accepts anthropic-beta, ?beta=true and the fields Claude Code sends', async () => {
      const message = await client.beta.messages
        .stream({
        model: 'echo',
        max_tokens: 32_000,
        betas: ['claude-code-20250219', 'interleaved-thinking-2025-05-14'],
        thinking: { type: 'adaptive' } as any,
        context_management: { edits: [{ type: 'clear_thinking_20251015', keep: 'all' }] } as any,
        metadata: { user_id: JSON.stringify({ device_id: 'd', session_id: 's' }) },
        messages: [{ role: 'user', content: [{ type: 'text', text: 'hello', cache_control: { type: 'ephemeral' } }] }],
      })
        .finalMessage()
      expect(textOf(message as unknown as Anthropic.Message)).toBe('hello')
      // Claude Code posts to /v1/messages?beta=true with anthropic-version and anthropic-beta.
      const headers = { 'x-api-key': ANN, 'anthropic-version': '2023-06-01', 'anthropic-beta': 'claude-code-20250219,context-management-2025-06-27' }
      const raw = await postJson(`${url()}?beta=true`, { model: 'echo', max_tokens: 64, messages: [{ role: 'user', content: 'beta' }] }, headers)
      expect([raw.status, raw.json.content[0].text]).toEqual([200, 'beta'])
    })
  })

  describe('messages.stream', () => {
    it('streams to the final message: the documented event order, text deltas, stop reason and usage', async () => {
      const stream = client.messages.stream({ model: 'echo', max_tokens: 100, messages: [{ role: 'user', content: 'one two three' }] })
      const types: string[] = []
      const texts: string[] = []
      stream.on('streamEvent', (event) => types.push(event.type))
      stream.on('text', (text) => texts.push(text))
      const message = await stream.finalMessage()
      expect(texts).toEqual(['one ', 'two ', 'three'])
      expect(textOf(message)).toBe('one two three')
      expect(message.stop_reason).toBe('end_turn')
      // local/echo counts words: 'Be brief.' and 'one two three' in, three out.
      expect(message.usage).toMatchObject({ input_tokens: 5, output_tokens: 3 })
      expect(types[0]).toBe('message_start')
      expect(types.slice(-3)).toEqual(['content_block_stop', 'message_delta', 'message_stop'])
      expect(types.filter((type) => type === 'content_block_delta')).toHaveLength(3)
    })

    it('a client tool call streams as a tool_use block whose input arrives as input_json_delta', async () => {
      const stream = client.messages.stream({ model: 'echo', max_tokens: 100, tools: [weather], messages: [{ role: 'user', content: '/tool get_weather {"city": "Oslo"}' }] })
      const json: string[] = []
      stream.on('inputJson', (partial) => json.push(partial))
      const message = await stream.finalMessage()
      expect(message.stop_reason).toBe('tool_use')
      expect(message.content).toEqual([{ type: 'tool_use', id: expect.any(String), name: 'get_weather', input: { city: 'Oslo' } }])
      expect(json.join('')).toBe('{"city": "Oslo"}')
    })

    it('pings while a long tool runs, then the answer; the SDK finishes cleanly', async () => {
      const response = await fetch(url(), {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': ANN },
        body: JSON.stringify({ model: 'cpu', max_tokens: 100, stream: true, messages: [{ role: 'user', content: '/tool busy {"ms": 700}' }] }),
      })
      const events = await sseEvents(response)
      const names = events.map((e) => e.event)
      expect(names[0]).toBe('message_start')
      expect(names.filter((name) => name === 'ping').length).toBeGreaterThanOrEqual(2)
      // The pings came while the tool ran, before any content.
      expect(names.indexOf('ping')).toBeLessThan(names.indexOf('content_block_start'))
      expect(names.slice(-2)).toEqual(['message_delta', 'message_stop'])
      const final = await client.messages
        .stream({ model: 'cpu', max_tokens: 100, messages: [{ role: 'user', content: '/tool busy {"ms": 400}' }] })
        .finalMessage()
      expect(final.stop_reason).toBe('end_turn')
    })
  })

  describe('an agent on an OpenAI-compatible endpoint', () => {
    it('a client tool call reaches the client as tool_use; the tool_result goes back to the model as a tool message', async () => {
      openai.script({ json: chatCompletion({ tool_calls: [{ id: 'call_w1', function: { name: 'get_weather', arguments: '{"city":"Rome"}' } }] }) })
      const first = await client.messages.create({ model: 'gpt', max_tokens: 300, tools: [weather], messages: [{ role: 'user', content: 'Weather in Rome?' }] })
      expect(first.stop_reason).toBe('tool_use')
      expect(first.content).toEqual([{ type: 'tool_use', id: 'call_w1', name: 'get_weather', input: { city: 'Rome' } }])
      const sent = openai.requests[0]!.body
      expect(sent.tools).toEqual([{ type: 'function', function: { name: 'get_weather', description: 'Weather of a city', parameters: weather.input_schema } }])
      expect(sent.max_tokens).toBe(300)

      openai.script({ json: chatCompletion({ content: 'Sunny in Rome.' }) })
      const second = await answerTool('gpt', 'Weather in Rome?', first, 'call_w1', '24°C')
      expect(textOf(second)).toBe('Sunny in Rome.')
      expect(openai.requests[1]!.body.messages).toEqual([
        { role: 'user', content: 'Weather in Rome?' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_w1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Rome"}' } }] },
        { role: 'tool', tool_call_id: 'call_w1', content: '24°C' },
      ])
    })

    it('streams its answer; a length finish is max_tokens', async () => {
      openai.script({ sse: textChunks('Once upon a', { finish_reason: 'length' }) })
      const message = await client.messages.stream({ model: 'gpt', max_tokens: 3, messages: [{ role: 'user', content: 'Tell a story' }] }).finalMessage()
      expect([textOf(message), message.stop_reason]).toEqual(['Once upon a', 'max_tokens'])
      expect(message.usage).toMatchObject({ input_tokens: 11, output_tokens: 7 })
    })

    it('an upstream that drops mid-stream: an error event after the headers, which the SDK throws', async () => {
      openai.script({ sse: [chatChunk({ role: 'assistant', content: '' }), chatChunk({ content: 'partial ' }), chatChunk({ content: 'answer' })], dropAfter: 2 })
      const stream = client.messages.stream({ model: 'gpt', max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] })
      const error: any = await stream.finalMessage().catch((e) => e)
      expect(error).toBeInstanceOf(Anthropic.APIError)
      expect(error.message).toMatch(/api_error|provider/i)
      expect(error.error?.error?.details?.error_code).toBe('RBT_ERR_PROVIDER_FAILED')
    })
  })

  describe('an agent on Anthropic', () => {
    it('thinking reaches the model as a reasoning request, and its thinking comes back as thinking blocks', async () => {
      upstream.script({
        sse: [
          { type: 'message_start', message: { id: 'msg_up', type: 'message', role: 'assistant', content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 9, output_tokens: 1 } } },
          { type: 'content_block_start', index: 0, content_block: { type: 'thinking', thinking: '', signature: '' } },
          { type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: 'Two and two.' } },
          { type: 'content_block_stop', index: 0 },
          ...textEvents('Four.').slice(1),
        ],
      })
      const message = await client.messages
        .stream({ model: 'claude', max_tokens: 16_000, thinking: { type: 'enabled', budget_tokens: 10_000 }, messages: [{ role: 'user', content: '2+2?' }] })
        .finalMessage()
      expect(message.content.map((block) => block.type)).toEqual(['thinking', 'text'])
      expect((message.content[0] as Anthropic.ThinkingBlock).thinking).toBe('Two and two.')
      expect(textOf(message)).toBe('Four.')
      expect(upstream.requests[0]!.body.thinking).toEqual({ type: 'enabled', budget_tokens: 8192 })
    })
  })

  describe('count_tokens', () => {
    it("exact where the agent's provider counts (Anthropic's count_tokens), an estimate otherwise", async () => {
      upstream.script({ json: { input_tokens: 321 } })
      const exact = await client.messages.countTokens({ model: 'claude', system: 'Be kind.', tools: [weather], messages: [{ role: 'user', content: 'Hello' }] })
      expect(exact).toEqual({ input_tokens: 321 })
      expect(upstream.requests[0]!.path).toBe('/v1/messages/count_tokens')
      expect(upstream.requests[0]!.body).toMatchObject({ model: 'claude-x', system: 'Be kind.', messages: [{ role: 'user', content: 'Hello' }] })

      const estimate = await client.messages.countTokens({ model: 'echo', messages: [{ role: 'user', content: 'x'.repeat(400) }] }).withResponse()
      expect(estimate.response.headers.get('x-robutler-token-count')).toBe('estimate')
      // 400 characters of the message, the agent's instructions, a few tokens per message.
      expect(estimate.data.input_tokens).toBeGreaterThanOrEqual(100)
      expect(estimate.data.input_tokens).toBeLessThan(120)
      const onPath = await postJson(`${t.url}/echo/v1/messages/count_tokens`, { messages: [{ role: 'user', content: 'hi' }] }, { 'x-api-key': ANN })
      expect(onPath.json.input_tokens).toBeGreaterThan(0)
    })
  })

  describe('models', () => {
    it("lists the agents the caller may use in Anthropic's shape, pages, and retrieves one", async () => {
      const page = await client.models.list({ limit: 2 })
      expect(page.data.map((m) => m.id)).toEqual(['echo', 'inspector'])
      expect(page.data[0]).toMatchObject({ type: 'model', id: 'echo', display_name: 'echo' })
      expect(page.has_more).toBe(true)
      const all: string[] = []
      for await (const model of client.models.list({ limit: 4 })) all.push(model.id)
      expect(all).toEqual(['echo', 'inspector', 'gpt', 'claude', 'limited', 'cpu'])
      expect(await client.models.retrieve('gpt')).toMatchObject({ type: 'model', id: 'gpt' })
      const bob = new Anthropic({ baseURL: t.url, apiKey: 'key-bob', maxRetries: 0 })
      expect((await bob.models.list()).data.map((m) => m.id)).toEqual(['echo'])
      await expect(bob.models.retrieve('gpt')).rejects.toBeInstanceOf(PermissionDeniedError)
      // Without anthropic-version: the same agents in OpenAI's list shape.
      const openaiShape = await getJson(`${t.url}/v1/models`, { 'x-api-key': ANN })
      expect(openaiShape.json).toMatchObject({ object: 'list', data: [{ id: 'echo', object: 'model' }, { id: 'inspector' }, { id: 'gpt' }, { id: 'claude' }, { id: 'limited' }, { id: 'cpu' }] })
    })
  })

  describe("errors in Anthropic's shape, as the SDK's error classes", () => {
    const hello = (model: string, extra: Record<string, unknown> = {}) => ({ model, max_tokens: 10, messages: [{ role: 'user' as const, content: 'hi' }], ...extra })
    const failure = (c: Anthropic, body: Record<string, unknown>) => c.messages.create(body as any).catch((e) => e)

    it('400 invalid_request_error naming the field; a server tool is refused by its type', async () => {
      const missing: any = await failure(client, { model: 'echo', messages: [{ role: 'user', content: 'hi' }] })
      expect(missing).toBeInstanceOf(BadRequestError)
      expect([missing.status, missing.type, missing.errorCode]).toEqual([400, 'invalid_request_error', 'RBT_ERR_INVALID_REQUEST'])
      expect(missing.error.error.details.param).toBe('max_tokens')
      const server: any = await failure(client, hello('echo', { tools: [{ type: 'web_search_20250305', name: 'web_search' }] }))
      expect(server).toBeInstanceOf(BadRequestError)
      expect(server.message).toContain("tool type 'web_search_20250305' is a server tool")
      const mcp: any = await failure(client, hello('echo', { mcp_servers: [] }))
      expect(mcp.message).toContain('mcp_servers')
      const extra: any = await failure(client, hello('echo', { frequency_penalty: 1 }))
      expect(extra.error.error.details.param).toBe('frequency_penalty')
      const role: any = await failure(client, hello('echo', { messages: [{ role: 'system', content: 'x' }] }))
      expect(role.status).toBe(400)
      const badImage: any = await failure(client, hello('echo', { messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/bmp', data: 'x' } }] }] }))
      expect(badImage.error.error.details.param).toBe('messages[0].content[0].source.media_type')
    })

    it('401 authentication_error, 403 permission_error, 404 not_found_error', async () => {
      const wrong: any = await failure(new Anthropic({ baseURL: t.url, apiKey: 'invalid-key', maxRetries: 0 }), hello('echo'))
      expect(wrong).toBeInstanceOf(AuthenticationError)
      expect([wrong.type, wrong.errorCode]).toEqual(['authentication_error', 'RBT_ERR_UNAUTHENTICATED'])
      expect(wrong.message).not.toContain('invalid-key')
      const bob: any = await failure(new Anthropic({ baseURL: t.url, apiKey: 'key-bob', maxRetries: 0 }), hello('gpt'))
      expect(bob).toBeInstanceOf(PermissionDeniedError)
      expect(bob.type).toBe('permission_error')
      const unknown: any = await failure(client, hello('nobody'))
      expect(unknown).toBeInstanceOf(NotFoundError)
      expect([unknown.type, unknown.errorCode]).toEqual(['not_found_error', 'RBT_ERR_MODEL_NOT_FOUND'])
      expect(unknown.requestID).toBeNull()
      expect(unknown.error.request_id).toBeTruthy()
    })

    it('413 request_too_large', async () => {
      const big: any = await failure(client, hello('echo', { messages: [{ role: 'user', content: 'x'.repeat(300_000) }] }))
      expect(big).toBeInstanceOf(ContentTooLargeError)
      expect([big.type, big.errorCode]).toEqual(['request_too_large', 'RBT_ERR_BODY_TOO_LARGE'])
    })

    it('429 rate_limit_error with retry-after', async () => {
      await client.messages.create(hello('limited'))
      const limited: any = await failure(client, hello('limited'))
      expect(limited).toBeInstanceOf(RateLimitError)
      expect(limited.type).toBe('rate_limit_error')
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0)
    })

    it('500 api_error', async () => {
      const broken: any = await failure(client, hello('broken'))
      expect(broken).toBeInstanceOf(InternalServerError)
      expect([broken.status, broken.type, broken.errorCode]).toEqual([500, 'api_error', 'RBT_ERR_AGENT_INVALID'])
      expect(broken.message).not.toMatch(/\n\s+at /)
    })

    it('529 overloaded_error when the worker pool is saturated, with retry-after', async () => {
      // One thread and a queue of one: of four 400 ms tool runs at once, at least two are refused.
      const answers = await Promise.all(Array.from({ length: 4 }, () => failure(client, hello('cpu', { messages: [{ role: 'user', content: '/tool busy {"ms": 400}' }] }))))
      const refused = answers.filter((a: any) => a instanceof OverloadedError)
      expect(refused.length).toBeGreaterThanOrEqual(2)
      for (const error of refused) {
        expect([error.status, error.type, error.errorCode]).toEqual([529, 'overloaded_error', 'RBT_ERR_POOL_SATURATED'])
        expect(error.headers.get('retry-after')).toBe('1')
      }
    })

    it('the request log line keeps the RBT_ERR code', async () => {
      await failure(client, hello('nobody', {}))
      const lines = t.logs.map((l) => JSON.parse(l)).filter((l) => l.msg === 'request' && l.status === 404)
      expect(lines.at(-1)).toMatchObject({ error: 'RBT_ERR_MODEL_NOT_FOUND' })
    })
  })
})

describe('reserved names', () => {
  it("refuses at load an agent named 'v1' while the plugin is enabled, naming it", async () => {
    await expect(
      startServer(['local', 'messages'], { plugins: { '@robutler/plugin-local': {}, '@robutler/plugin-messages': {} }, agents: [{ name: 'v1', model: 'local/echo' }] }),
    ).rejects.toThrow(/'v1' is a route of @robutler\/plugin-messages/)
  })
})

describe('a draining server', () => {
  it('answers new Messages API requests 529 overloaded_error, with retry-after', async () => {
    const t = await startServer(['local', 'messages', 'cpu'], {
      workerThreads: 1,
      plugins: { '@robutler/plugin-local': {}, '@robutler/plugin-messages': {} },
      agents: [{ name: 'cpu', model: 'local/echo', skills: cpu }],
    })
    try {
      const slow = postJson(`${t.url}/v1/messages`, { model: 'cpu', max_tokens: 10, messages: [{ role: 'user', content: '/tool busy {"ms": 600}' }] })
      await new Promise((resolve) => setTimeout(resolve, 150))
      const closing = t.server.close()
      const client = new Anthropic({ baseURL: t.url, apiKey: 'unused', maxRetries: 0 })
      const refused: any = await client.messages.create({ model: 'cpu', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }).catch((e) => e)
      expect(refused).toBeInstanceOf(OverloadedError)
      expect([refused.type, refused.errorCode, refused.headers.get('retry-after')]).toEqual(['overloaded_error', 'RBT_ERR_DRAINING', '5'])
      expect((await slow).status).toBe(200)
      await closing
    } finally {
      await t.close()
    }
  })
})
