// @robutler/plugin-anthropic: the OpenAI ↔ Messages API mapping through its public exports, the provider with
// the real @anthropic-ai/sdk over HTTP, and a real Robutler server driven by the openai SDK, all against
// the scripted fake Anthropic wire server.
import OpenAI from 'openai'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { ProviderError, type ChatMessage, type ModelDelta, type ModelRequest } from '@robutler/kernel'
import {
  createAnthropicProvider,
  fromAnthropicMessage,
  fromAnthropicStream,
  fromAnthropicUsage,
  mapStopReason,
  toAnthropicRequest,
} from '@robutler/plugin-anthropic'
import {
  anthropicErrorBody,
  errorEvent,
  messageDelta,
  messageStart,
  startFakeAnthropic,
  textEvents,
  textMessage,
  toolUseEvents,
  type FakeAnthropic,
} from './fixtures/fake-anthropic.js'
import { startServer, type TestServer } from './helpers/test-server.js'

const KEY = 'sk-ant-test'
const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=='

/** On a model the SDK does not call deprecated (it warns on the console for those, on every call). */
function request(messages: ChatMessage[], extra: Partial<ModelRequest> = {}): ModelRequest {
  return { model: 'claude-sonnet-4-6', messages, params: {}, ...extra }
}

const map = (req: ModelRequest) => toAnthropicRequest(req, { maxTokens: 4096 })

async function* iterate<T>(items: T[]): AsyncGenerator<T> {
  for (const item of items) yield item
}

async function collect(stream: AsyncIterable<ModelDelta>): Promise<ModelDelta[]> {
  const deltas: ModelDelta[] = []
  for await (const delta of stream) deltas.push(delta)
  return deltas
}

/** What a thrown value is, for expectations on errors that cross module copies. */
function caught(fn: () => unknown): any {
  try {
    fn()
  } catch (error) {
    return error
  }
  throw new Error('expected a throw')
}

const weatherTool = { type: 'function' as const, function: { name: 'get_weather', description: 'Weather in a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } }
const timeTool = { type: 'function' as const, function: { name: 'get_time', description: 'Local time', parameters: { type: 'object', properties: { tz: { type: 'string' } } } } }

describe('OpenAI → Anthropic request mapping', () => {
  it('system and developer messages join into the top-level system, out of messages', () => {
    const body = map(
      request([
        { role: 'system', content: 'Be brief.' },
        { role: 'developer', content: [{ type: 'text', text: 'Answer in French.' }] },
        { role: 'user', content: 'hi' },
      ]),
    )
    expect(body.system).toBe('Be brief.\n\nAnswer in French.')
    expect(body.messages).toEqual([{ role: 'user', content: 'hi' }])
    expect(body.model).toBe('claude-sonnet-4-6')
  })

  it('max_tokens: the default, max_tokens, and max_completion_tokens first', () => {
    const messages: ChatMessage[] = [{ role: 'user', content: 'hi' }]
    expect(map(request(messages)).max_tokens).toBe(4096)
    expect(toAnthropicRequest(request(messages), { maxTokens: 100 }).max_tokens).toBe(100)
    expect(map(request(messages, { params: { max_tokens: 50 } })).max_tokens).toBe(50)
    expect(map(request(messages, { params: { max_tokens: 50, max_completion_tokens: 70 } })).max_tokens).toBe(70)
  })

  it('user content parts: text, base64 data: images and http(s) image URLs', () => {
    const body = map(
      request([
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is in these?' },
            { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG}`, detail: 'low' } },
            { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg' } },
          ],
        },
      ]),
    )
    expect(body.messages).toEqual([
      {
        role: 'user',
        content: [
          { type: 'text', text: 'What is in these?' },
          { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG } },
          { type: 'image', source: { type: 'url', url: 'https://example.com/cat.jpg' } },
        ],
      },
    ])
  })

  it('content the Messages API cannot take is a 400 naming the field, not a silent drop', () => {
    const audio = caught(() => map(request([{ role: 'user', content: [{ type: 'input_audio', input_audio: { data: 'x', format: 'wav' } }] }])))
    expect(audio.statusCode).toBe(400)
    expect(audio.code).toBe('RBT_ERR_INVALID_REQUEST')
    expect(audio.param).toBe('messages[0].content[0].type')
    const tiff = caught(() => map(request([{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:image/tiff;base64,AAAA' } }] }])))
    expect(tiff.statusCode).toBe(400)
    expect(tiff.message).toContain('image/tiff')
    const ftp = caught(() => map(request([{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'ftp://example.com/a.png' } }] }])))
    expect(ftp.statusCode).toBe(400)
  })

  it('an assistant turn with text and tool calls becomes text + tool_use blocks; bad arguments become {}', () => {
    const body = map(
      request([
        { role: 'user', content: 'weather and time in Paris?' },
        {
          role: 'assistant',
          content: 'Checking.',
          tool_calls: [
            { id: 'toolu_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
            { id: 'toolu_2', type: 'function', function: { name: 'get_time', arguments: '{not json' } },
            { id: 'toolu_3', type: 'function', function: { name: 'get_time', arguments: '' } },
          ],
        },
        { role: 'tool', tool_call_id: 'toolu_1', content: 'sunny' },
        { role: 'tool', tool_call_id: 'toolu_2', content: 'error: invalid arguments' },
        { role: 'tool', tool_call_id: 'toolu_3', content: [{ type: 'text', text: '14:00' }] },
      ]),
    )
    expect(body.messages[1]).toEqual({
      role: 'assistant',
      content: [
        { type: 'text', text: 'Checking.' },
        { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } },
        { type: 'tool_use', id: 'toolu_2', name: 'get_time', input: {} },
        { type: 'tool_use', id: 'toolu_3', name: 'get_time', input: {} },
      ],
    })
  })

  it('consecutive tool messages become one user message of tool_result blocks', () => {
    const body = map(
      request([
        { role: 'user', content: 'both please' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            { id: 'toolu_a', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
            { id: 'toolu_b', type: 'function', function: { name: 'get_time', arguments: '{}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'toolu_a', content: 'sunny' },
        { role: 'tool', tool_call_id: 'toolu_b', content: '14:00' },
        { role: 'user', content: 'thanks, and tomorrow?' },
      ]),
    )
    expect(body.messages).toHaveLength(3)
    expect(body.messages[1]!.content).toEqual([
      { type: 'tool_use', id: 'toolu_a', name: 'get_weather', input: { city: 'Paris' } },
      { type: 'tool_use', id: 'toolu_b', name: 'get_time', input: {} },
    ])
    // The user's next words join the same user turn, after the results (the API wants tool_result blocks first).
    expect(body.messages[2]).toEqual({
      role: 'user',
      content: [
        { type: 'tool_result', tool_use_id: 'toolu_a', content: 'sunny' },
        { type: 'tool_result', tool_use_id: 'toolu_b', content: '14:00' },
        { type: 'text', text: 'thanks, and tomorrow?' },
      ],
    })
  })

  it('same-role turns merge so user and assistant alternate; empty turns are dropped', () => {
    const body = map(
      request([
        { role: 'user', content: 'one' },
        { role: 'user', content: [{ type: 'text', text: 'two' }] },
        { role: 'assistant', content: '' },
        { role: 'assistant', content: 'three' },
        { role: 'assistant', content: [{ type: 'text', text: 'four' }] },
        { role: 'system', content: 'late system text' },
        { role: 'user', content: 'five' },
      ]),
    )
    expect(body.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user'])
    expect(body.messages[0]!.content).toEqual([
      { type: 'text', text: 'one' },
      { type: 'text', text: 'two' },
    ])
    expect(body.messages[1]!.content).toEqual([
      { type: 'text', text: 'three' },
      { type: 'text', text: 'four' },
    ])
    expect(body.system).toBe('late system text')
  })

  it('tools become name/description/input_schema; strict passes through', () => {
    const body = map(
      request([{ role: 'user', content: 'hi' }], {
        tools: [weatherTool, { type: 'function', function: { name: 'ping', strict: true } }],
      }),
    )
    expect(body.tools).toEqual([
      { name: 'get_weather', description: 'Weather in a city', input_schema: weatherTool.function.parameters },
      { name: 'ping', input_schema: { type: 'object' }, strict: true },
    ])
    expect(body.tool_choice).toBeUndefined()
  })

  it('tool_choice and parallel_tool_calls', () => {
    const withTools = (params: ModelRequest['params']) => map(request([{ role: 'user', content: 'hi' }], { tools: [weatherTool], params })).tool_choice
    expect(withTools({ tool_choice: 'auto' })).toEqual({ type: 'auto' })
    expect(withTools({ tool_choice: 'required' })).toEqual({ type: 'any' })
    expect(withTools({ tool_choice: 'none' })).toEqual({ type: 'none' })
    expect(withTools({ tool_choice: { type: 'function', function: { name: 'get_weather' } } })).toEqual({ type: 'tool', name: 'get_weather' })
    expect(withTools({ parallel_tool_calls: false })).toEqual({ type: 'auto', disable_parallel_tool_use: true })
    expect(withTools({ tool_choice: 'required', parallel_tool_calls: false })).toEqual({ type: 'any', disable_parallel_tool_use: true })
    expect(withTools({ parallel_tool_calls: true })).toBeUndefined()
    expect(caught(() => withTools({ tool_choice: { type: 'allowed_tools' } })).param).toBe('tool_choice')
    // No tools, no tool_choice: the API refuses one without the other.
    expect(map(request([{ role: 'user', content: 'hi' }], { params: { tool_choice: 'required' } })).tool_choice).toBeUndefined()
  })

  it('stop → stop_sequences, user → metadata.user_id; fields with no Messages API equivalent are left out', () => {
    const body = map(
      request([{ role: 'user', content: 'hi' }], {
        params: {
          stop: 'END',
          user: 'user-42',
          temperature: 0.2,
          top_p: 0.9,
          seed: 7,
          presence_penalty: 0.5,
          frequency_penalty: 0.5,
          response_format: { type: 'json_object' },
          logprobs: true,
        },
      }),
    )
    expect(body).toEqual({
      model: 'claude-sonnet-4-6',
      max_tokens: 4096,
      messages: [{ role: 'user', content: 'hi' }],
      stop_sequences: ['END'],
      metadata: { user_id: 'user-42' },
    })
    expect(map(request([{ role: 'user', content: 'hi' }], { params: { stop: ['a', 'b'] } })).stop_sequences).toEqual(['a', 'b'])
    expect(map(request([{ role: 'user', content: 'hi' }], { params: { stop: null } })).stop_sequences).toBeUndefined()
  })
})

describe('Anthropic → OpenAI response mapping', () => {
  it('every stop_reason maps to a finish_reason', () => {
    expect(mapStopReason('end_turn')).toBe('stop')
    expect(mapStopReason('stop_sequence')).toBe('stop')
    expect(mapStopReason('tool_use')).toBe('tool_calls')
    expect(mapStopReason('max_tokens')).toBe('length')
    expect(mapStopReason('model_context_window_exceeded')).toBe('length')
    expect(mapStopReason('refusal')).toBe('content_filter')
    expect(mapStopReason('pause_turn')).toBe('stop')
    expect(mapStopReason(null)).toBe('stop')
    expect(mapStopReason('something_new')).toBe('stop')
  })

  it('usage: cache reads and writes count as prompt tokens', () => {
    expect(fromAnthropicUsage({ input_tokens: 10, output_tokens: 5 })).toEqual({ prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 })
    expect(fromAnthropicUsage({ input_tokens: 10, cache_creation_input_tokens: 20, cache_read_input_tokens: 70, output_tokens: 5 })).toEqual({
      prompt_tokens: 100,
      completion_tokens: 5,
      total_tokens: 105,
    })
    expect(fromAnthropicUsage({ input_tokens: 3, output_tokens: 1, cache_creation_input_tokens: null, cache_read_input_tokens: null }).total_tokens).toBe(4)
  })

  it('a Message: text blocks joined, thinking as reasoning, tool_use blocks as tool_calls with JSON arguments', () => {
    const response = fromAnthropicMessage({
      content: [
        { type: 'text', text: 'Let me ', citations: null },
        { type: 'thinking', thinking: 'hidden', signature: 'sig' } as any,
        { type: 'text', text: 'check.', citations: null },
        { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' }, caller: { type: 'direct' } } as any,
      ],
      stop_reason: 'tool_use',
      usage: { input_tokens: 7, output_tokens: 3 } as any,
    })
    expect(response).toEqual({
      message: {
        role: 'assistant',
        content: 'Let me check.',
        tool_calls: [{ id: 'toolu_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }],
        reasoning: 'hidden',
      },
      finish_reason: 'tool_calls',
      usage: { prompt_tokens: 7, completion_tokens: 3, total_tokens: 10 },
    })
    const toolsOnly = fromAnthropicMessage({
      content: [{ type: 'tool_use', id: 'toolu_2', name: 'get_time', input: {}, caller: { type: 'direct' } } as any],
      stop_reason: 'tool_use',
      usage: { input_tokens: 1, output_tokens: 1 } as any,
    })
    expect(toolsOnly.message.content).toBeNull()
    expect(toolsOnly.message.tool_calls![0]!.function.arguments).toBe('{}')
  })
})

describe('Anthropic stream events → deltas', () => {
  /** A text block, then two tool_use blocks whose input fragments interleave. */
  const interleaved = [
    messageStart({ input_tokens: 30, cache_read_input_tokens: 5 }),
    { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '', citations: null } },
    { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Checking both.' } },
    { type: 'content_block_stop', index: 0 },
    { type: 'content_block_start', index: 1, content_block: { type: 'tool_use', id: 'toolu_a', name: 'get_weather', input: {} } },
    { type: 'content_block_start', index: 2, content_block: { type: 'tool_use', id: 'toolu_b', name: 'get_time', input: {} } },
    { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: '{"city":' } },
    { type: 'content_block_delta', index: 2, delta: { type: 'input_json_delta', partial_json: '{"tz":' } },
    { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: '"Paris"}' } },
    { type: 'content_block_delta', index: 2, delta: { type: 'input_json_delta', partial_json: '"Europe/Paris"}' } },
    { type: 'content_block_stop', index: 1 },
    { type: 'content_block_stop', index: 2 },
    messageDelta('tool_use', 40),
    { type: 'message_stop' },
  ] as any[]

  it('tool_use blocks get indexes 0, 1 by their order among tool_use blocks, not the content block index', async () => {
    const deltas = await collect(fromAnthropicStream(iterate(interleaved)))
    expect(deltas).toEqual([
      {}, // message_start: the model has started answering
      { content: 'Checking both.' },
      { tool_calls: [{ index: 0, id: 'toolu_a', type: 'function', function: { name: 'get_weather', arguments: '' } }] },
      { tool_calls: [{ index: 1, id: 'toolu_b', type: 'function', function: { name: 'get_time', arguments: '' } }] },
      { tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] },
      { tool_calls: [{ index: 1, function: { arguments: '{"tz":' } }] },
      { tool_calls: [{ index: 0, function: { arguments: '"Paris"}' } }] },
      { tool_calls: [{ index: 1, function: { arguments: '"Europe/Paris"}' } }] },
      // input tokens (and cache reads) from message_start, output tokens from message_delta
      { finish_reason: 'tool_calls', usage: { prompt_tokens: 35, completion_tokens: 40, total_tokens: 75 } },
    ])
  })

  it('text deltas, then the mapped stop reason with usage at the end', async () => {
    const deltas = await collect(fromAnthropicStream(iterate(textEvents(['a ', 'b'], { stop_reason: 'max_tokens', usage: { input_tokens: 4, output_tokens: 2 } }) as any[])))
    expect(deltas).toEqual([{}, { content: 'a ' }, { content: 'b' }, { finish_reason: 'length', usage: { prompt_tokens: 4, completion_tokens: 2, total_tokens: 6 } }])
  })

  it('thinking deltas as reasoning; the stop sequence that stopped it with the finish reason', async () => {
    const events = [
      messageStart(),
      { type: 'content_block_start', index: 0, content_block: { type: 'thinking', thinking: '', signature: '' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: 'Hmm, ' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: 'easy.' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'signature_delta', signature: 'sig' } },
      { type: 'content_block_stop', index: 0 },
      { type: 'content_block_start', index: 1, content_block: { type: 'text', text: '', citations: null } },
      { type: 'content_block_delta', index: 1, delta: { type: 'text_delta', text: 'one two' } },
      { type: 'content_block_stop', index: 1 },
      { type: 'message_delta', delta: { stop_reason: 'stop_sequence', stop_sequence: 'three' }, usage: { output_tokens: 6 } },
      { type: 'message_stop' },
    ] as any[]
    expect(await collect(fromAnthropicStream(iterate(events)))).toEqual([
      {},
      { reasoning: 'Hmm, ' },
      { reasoning: 'easy.' },
      { content: 'one two' },
      { finish_reason: 'stop', stop_sequence: 'three', usage: { prompt_tokens: 10, completion_tokens: 6, total_tokens: 16 } },
    ])
  })

  it('an error event throws; a stream that ends before message_stop throws; an aborted one throws its reason', async () => {
    await expect(collect(fromAnthropicStream(iterate([messageStart(), errorEvent('overloaded_error')] as any[])))).rejects.toThrow(/overloaded_error/)
    const truncated = textEvents(['a']).slice(0, -2) as any[]
    await expect(collect(fromAnthropicStream(iterate(truncated)))).rejects.toThrow(/before message_stop/)
    const controller = new AbortController()
    controller.abort(new Error('client went away'))
    await expect(collect(fromAnthropicStream(iterate(truncated), controller.signal))).rejects.toThrow('client went away')
  })
})

describe('the provider: @anthropic-ai/sdk over HTTP', () => {
  let fake: FakeAnthropic
  beforeAll(async () => {
    fake = await startFakeAnthropic()
  })
  afterEach(() => fake.reset())
  afterAll(() => fake.close())

  const provider = (config: Record<string, unknown> = {}) => createAnthropicProvider({ apiKey: KEY, baseURL: fake.url, ...config })
  const hello = () => request([{ role: 'user', content: 'hello' }])
  const signal = () => new AbortController().signal

  it('a whole turn: the request on the wire and the mapped answer', async () => {
    fake.script(textMessage('Hi!', { usage: { input_tokens: 5, output_tokens: 2 } }))
    const response = await provider({ headers: { 'anthropic-beta': 'test-beta' } }).complete(hello(), { signal: signal() })
    expect(response).toEqual({ message: { role: 'assistant', content: 'Hi!' }, finish_reason: 'stop', usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 } })
    const [seen] = fake.requests
    expect(seen!.path).toBe('/v1/messages')
    expect(seen!.apiKey).toBe(KEY)
    expect(seen!.headers['anthropic-version']).toBeTruthy()
    expect(seen!.headers['anthropic-beta']).toBe('test-beta')
    expect(seen!.body).toEqual({ model: 'claude-sonnet-4-6', max_tokens: 4096, messages: [{ role: 'user', content: 'hello' }] })
  })

  it('reasoning_effort asks for thinking within max_tokens; a whole answer keeps its thinking and stop sequence', async () => {
    fake.script({ message: { content: [{ type: 'thinking', thinking: 'Let me see.', signature: 'sig' }, { type: 'text', text: 'one', citations: null }], stop_reason: 'stop_sequence', stop_sequence: 'two' } })
    const ask = request([{ role: 'user', content: 'count' }], { params: { reasoning_effort: 'medium', max_tokens: 20000, stop: ['two'] } })
    const response = await provider().complete(ask, { signal: signal() })
    expect(response.message).toEqual({ role: 'assistant', content: 'one', reasoning: 'Let me see.' })
    expect([response.finish_reason, response.stop_sequence]).toEqual(['stop', 'two'])
    expect(fake.requests[0]!.body.thinking).toEqual({ type: 'enabled', budget_tokens: 8192 })
    // The budget stays below max_tokens; below the API's smallest budget, no thinking at all.
    const capped = (effort: string, max: number) => toAnthropicRequest(request([{ role: 'user', content: 'x' }], { params: { reasoning_effort: effort, max_tokens: max } }), { maxTokens: 4096 }).thinking
    expect(capped('high', 5000)).toEqual({ type: 'enabled', budget_tokens: 4999 })
    expect(capped('low', 1000)).toBeUndefined()
    expect(capped('minimal', 8000)).toBeUndefined()
  })

  it("countTokens asks Anthropic's count_tokens endpoint for the body complete would send", async () => {
    fake.script({ json: { input_tokens: 1234 } })
    const tools = [{ type: 'function' as const, function: { name: 'get_time', parameters: { type: 'object' } } }]
    const ask = request([{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'hello' }], { tools, params: { max_tokens: 50, stop: ['x'], user: 'u' } })
    expect(await provider().countTokens!(ask, { signal: signal() })).toBe(1234)
    const [seen] = fake.requests
    expect(seen!.path).toBe('/v1/messages/count_tokens')
    expect(seen!.body).toEqual({
      model: 'claude-sonnet-4-6',
      system: 'Be brief.',
      messages: [{ role: 'user', content: 'hello' }],
      tools: [{ name: 'get_time', input_schema: { type: 'object' } }],
    })
    fake.script({ error: 500 })
    expect(await provider().countTokens!(ask, { signal: signal() }).catch((e) => e)).toBeInstanceOf(ProviderError)
  })

  it('errors leave as classified ProviderErrors, the SDK error (status, headers) as cause, with no SDK retries', async () => {
    fake.script({ error: 429, headers: { 'retry-after': '3' } })
    const limited: any = await provider().complete(hello(), { signal: signal() }).catch((e) => e)
    expect(limited).toBeInstanceOf(ProviderError)
    expect([limited.kind, limited.status, limited.retryable, limited.retryAfterMs]).toEqual(['rate_limit', 429, true, 3000])
    expect(limited.cause.name).toBe('RateLimitError')
    expect(limited.cause.status).toBe(429)
    expect(limited.cause.headers.get('retry-after')).toBe('3')
    fake.script({ error: 529 })
    const overloaded: any = await provider().complete(hello(), { signal: signal() }).catch((e) => e)
    expect([overloaded.kind, overloaded.status, overloaded.retryable]).toEqual(['server', 529, true])
    expect(overloaded.cause.name).toBe('OverloadedError')
    expect(overloaded.cause.status).toBe(529)
    expect(overloaded.cause.type).toBe('overloaded_error')
    fake.script({ error: 500 })
    const failed: any = await collect(provider().stream(hello(), { signal: signal() })).catch((e) => e)
    expect([failed.kind, failed.status]).toEqual(['server', 500])
    expect(failed.cause.status).toBe(500)
    expect(fake.requests).toHaveLength(3)
  })

  it('a stalled upstream times out (APIConnectionTimeoutError as a timeout ProviderError) and the connection is closed', async () => {
    fake.script({ stall: true })
    const error: any = await provider({ timeout: 200 }).complete(hello(), { signal: signal() }).catch((e) => e)
    expect([error.name, error.kind, error.retryable]).toEqual(['ProviderError', 'timeout', false])
    expect(error.cause.name).toBe('APIConnectionTimeoutError')
    await fake.waitFor(() => fake.closed.length === 1)
  })

  it('a dropped connection mid-stream fails the stream after what had arrived', async () => {
    fake.script({ sse: textEvents(['one ', 'two ', 'three']), dropAfter: 4 })
    const deltas: ModelDelta[] = []
    const error: any = await (async () => {
      for await (const delta of provider().stream(hello(), { signal: signal() })) deltas.push(delta)
    })().catch((e) => e)
    expect(error).toBeInstanceOf(Error)
    expect(deltas).toEqual([{}, { content: 'one ' }])
    expect(fake.closed).toHaveLength(0)
  })

  it('an error event mid-stream throws a retryable ProviderError, the SDK error with its type as cause', async () => {
    fake.script({ sse: [messageStart(), errorEvent('overloaded_error', 'Overloaded')] })
    const error: any = await collect(provider().stream(hello(), { signal: signal() })).catch((e) => e)
    expect([error.kind, error.status, error.retryable]).toEqual(['server', null, true])
    expect(error.cause.type).toBe('overloaded_error')
    expect(error.message).toContain('Overloaded')
    fake.script({ sse: [messageStart(), errorEvent('invalid_request_error', 'Bad thing')] })
    const refused: any = await collect(provider().stream(hello(), { signal: signal() })).catch((e) => e)
    expect([refused.kind, refused.retryable]).toEqual(['server', false])
  })

  it('aborting the signal closes the upstream connection, streamed or not', async () => {
    fake.script({ sse: textEvents(['a ', 'b ', 'c ', 'd ', 'e']), delayMs: 100 })
    const streamAbort = new AbortController()
    const deltas: ModelDelta[] = []
    const streamed = (async () => {
      for await (const delta of provider().stream(hello(), { signal: streamAbort.signal })) {
        deltas.push(delta)
        if (deltas.length === 1) streamAbort.abort(new Error('client went away'))
      }
    })()
    await expect(streamed).rejects.toThrow('client went away')
    await fake.waitFor(() => fake.closed.length === 1)

    fake.script({ stall: true })
    const wholeAbort = new AbortController()
    const whole = provider().complete(hello(), { signal: wholeAbort.signal })
    await fake.waitFor(() => fake.requests.length === 2)
    wholeAbort.abort()
    await expect(whole).rejects.toThrow()
    await fake.waitFor(() => fake.closed.length === 2)
  })

  it('without a key, calls fail naming ANTHROPIC_API_KEY and nothing is sent', async () => {
    const keyless = createAnthropicProvider({ baseURL: fake.url })
    await expect(keyless.complete(hello(), { signal: signal() })).rejects.toThrow(/ANTHROPIC_API_KEY/)
    await expect(collect(keyless.stream(hello(), { signal: signal() }))).rejects.toThrow(/ANTHROPIC_API_KEY/)
    expect(fake.requests).toHaveLength(0)
  })
})

/** A real server (this package linked into a temp app, as npm workspaces install it) with one agent on it. */
function startClaude(pluginConfig: Record<string, unknown>, env: Record<string, string> = {}): Promise<TestServer> {
  return startServer(['anthropic'], {
    plugins: { '@robutler/plugin-anthropic': pluginConfig },
    agents: [{ name: 'claude', model: 'anthropic/claude-sonnet-4-5', instructions: 'Be brief.' }],
    env,
  })
}

describe('a Robutler server on anthropic/*, driven by the openai SDK', () => {
  let fake: FakeAnthropic
  let t: TestServer
  let client: OpenAI
  const errorBodies: string[] = []

  beforeAll(async () => {
    fake = await startFakeAnthropic()
    t = await startClaude({ apiKey: KEY, baseURL: fake.url })
    client = new OpenAI({ baseURL: `${t.url}/claude`, apiKey: 'not-needed', maxRetries: 0 })
  })
  afterEach(() => fake.reset())
  afterAll(async () => {
    await t?.close()
    await fake?.close()
  })

  it('a whole answer: the agent instructions as system, the model name, the default max_tokens, the key', async () => {
    fake.script(textMessage('Hello.', { usage: { input_tokens: 12, output_tokens: 4 } }))
    const completion = await client.chat.completions.create({ model: 'anything', temperature: 0.3, messages: [{ role: 'user', content: 'hi' }] })
    expect(completion.choices[0]!.message.content).toBe('Hello.')
    expect(completion.choices[0]!.finish_reason).toBe('stop')
    expect(completion.usage).toMatchObject({ prompt_tokens: 12, completion_tokens: 4, total_tokens: 16 })
    expect(fake.requests).toHaveLength(1)
    const [seen] = fake.requests
    // @anthropic-ai/sdk 1.x sends the key as a Bearer token (API version 2026-10-21), not as x-api-key.
    expect(seen!.headers.authorization).toBe(`Bearer ${KEY}`)
    expect(seen!.apiKey).toBe(KEY)
    expect(seen!.headers['anthropic-version']).toBeTruthy()
    expect(seen!.body).toEqual({ model: 'claude-sonnet-4-5', max_tokens: 4096, system: 'Be brief.', messages: [{ role: 'user', content: 'hi' }] })
  })

  it('a streamed answer: one chunk id throughout, and the usage chunk when asked for', async () => {
    fake.script({ sse: textEvents(['Hel', 'lo ', 'world'], { usage: { input_tokens: 9, output_tokens: 3 } }) })
    const stream = await client.chat.completions.create({
      model: 'anything',
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: 'user', content: 'greet the world' }],
    })
    const chunks = []
    for await (const chunk of stream) chunks.push(chunk)
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('Hello world')
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1)
    const choiceChunks = chunks.filter((c) => c.choices.length > 0)
    expect(choiceChunks.at(-1)!.choices[0]!.finish_reason).toBe('stop')
    const last = chunks.at(-1)!
    expect(last.choices).toEqual([])
    expect(last.usage).toMatchObject({ prompt_tokens: 9, completion_tokens: 3, total_tokens: 12 })
    expect(fake.requests[0]!.body.stream).toBe(true)
    expect(fake.requests[0]!.body.system).toBe('Be brief.')
  })

  it('two parallel tool_use blocks with interleaved input deltas reach the client as tool calls 0 and 1', async () => {
    fake.script({
      sse: [
        messageStart({ input_tokens: 30 }),
        { type: 'content_block_start', index: 0, content_block: { type: 'tool_use', id: 'toolu_a', name: 'get_weather', input: {} } },
        { type: 'content_block_start', index: 1, content_block: { type: 'tool_use', id: 'toolu_b', name: 'get_time', input: {} } },
        { type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: '' } },
        { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: '{"tz": ' } },
        { type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: '{"city": "Pa' } },
        { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: '"Europe/Paris"}' } },
        { type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: 'ris"}' } },
        { type: 'content_block_stop', index: 1 },
        { type: 'content_block_stop', index: 0 },
        messageDelta('tool_use', 25),
        { type: 'message_stop' },
      ],
    })
    const question: OpenAI.Chat.ChatCompletionMessageParam = { role: 'user', content: 'Weather and time in Paris?' }
    const stream = await client.chat.completions.create({ model: 'anything', stream: true, tools: [weatherTool, timeTool], messages: [question] })
    const calls: Array<{ id: string; name: string; arguments: string }> = []
    let finish: string | null = null
    for await (const chunk of stream) {
      const choice = chunk.choices[0]
      if (!choice) continue
      for (const part of choice.delta.tool_calls ?? []) {
        const slot = (calls[part.index] ??= { id: '', name: '', arguments: '' })
        if (part.id) slot.id = part.id
        if (part.function?.name) slot.name = part.function.name
        if (part.function?.arguments) slot.arguments += part.function.arguments
      }
      if (choice.finish_reason) finish = choice.finish_reason
    }
    expect(finish).toBe('tool_calls')
    expect(calls).toHaveLength(2)
    expect(calls[0]).toMatchObject({ id: 'toolu_a', name: 'get_weather' })
    expect(JSON.parse(calls[0]!.arguments)).toEqual({ city: 'Paris' })
    expect(calls[1]).toMatchObject({ id: 'toolu_b', name: 'get_time' })
    expect(JSON.parse(calls[1]!.arguments)).toEqual({ tz: 'Europe/Paris' })
    expect(fake.requests[0]!.body.tools.map((tool: any) => tool.name)).toEqual(['get_weather', 'get_time'])

    // The client runs both tools and sends the results back: one user message of two tool_result blocks.
    fake.script(textMessage('Sunny, 14:00.'))
    const answer = await client.chat.completions.create({
      model: 'anything',
      tools: [weatherTool, timeTool],
      messages: [
        question,
        {
          role: 'assistant',
          content: null,
          tool_calls: calls.map((call) => ({ id: call.id, type: 'function' as const, function: { name: call.name, arguments: call.arguments } })),
        },
        { role: 'tool', tool_call_id: 'toolu_a', content: 'sunny, 21°C' },
        { role: 'tool', tool_call_id: 'toolu_b', content: '14:00' },
      ],
    })
    expect(answer.choices[0]!.message.content).toBe('Sunny, 14:00.')
    const followUp = fake.requests[1]!.body
    expect(followUp.messages).toEqual([
      { role: 'user', content: 'Weather and time in Paris?' },
      {
        role: 'assistant',
        content: [
          { type: 'tool_use', id: 'toolu_a', name: 'get_weather', input: { city: 'Paris' } },
          { type: 'tool_use', id: 'toolu_b', name: 'get_time', input: { tz: 'Europe/Paris' } },
        ],
      },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 'toolu_a', content: 'sunny, 21°C' },
          { type: 'tool_result', tool_use_id: 'toolu_b', content: '14:00' },
        ],
      },
    ])
  })

  it('a client that disconnects mid-stream closes the upstream connection', async () => {
    fake.script({ sse: textEvents(Array.from({ length: 40 }, (_, i) => `w${i} `)), delayMs: 50 })
    const controller = new AbortController()
    const stream = await client.chat.completions.create(
      { model: 'anything', stream: true, messages: [{ role: 'user', content: 'talk a lot' }] },
      { signal: controller.signal },
    )
    let received = 0
    try {
      for await (const chunk of stream) {
        if (chunk.choices[0]?.delta.content) received++
        if (received === 2) controller.abort()
      }
    } catch {
      // the SDK may end the loop quietly or throw on abort: either way the client has gone
    }
    expect(received).toBe(2)
    await fake.waitFor(() => fake.requests[0]?.closed === true)
    expect(fake.requests[0]!.eventsSent).toBeLessThan(40)
  })

  it('an upstream auth failure is an OpenAI-shaped error without the key', async () => {
    fake.script({ error: 401, body: anthropicErrorBody(401, `invalid x-api-key ${KEY}`) })
    const response = await fetch(`${t.url}/claude/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ messages: [{ role: 'user', content: 'hi' }] }),
    })
    const text = await response.text()
    errorBodies.push(text)
    expect(response.status).toBeGreaterThanOrEqual(400)
    expect(JSON.parse(text).error.code).toMatch(/^RBT_ERR_/)
    expect(fake.requests[0]!.apiKey).toBe(KEY)
  })

  it('the key appears in no server log line and no error body', () => {
    expect(t.logs.length).toBeGreaterThan(0)
    expect(t.logs.join('\n')).not.toContain(KEY)
    for (const body of errorBodies) expect(body).not.toContain(KEY)
  })
})

describe('the key from the environment, or none', () => {
  it('ANTHROPIC_API_KEY of the server environment is the default key', async () => {
    const fake = await startFakeAnthropic()
    const t = await startClaude({ baseURL: fake.url }, { ANTHROPIC_API_KEY: 'sk-ant-from-env' })
    try {
      fake.script(textMessage('ok'))
      const client = new OpenAI({ baseURL: `${t.url}/claude`, apiKey: 'not-needed', maxRetries: 0 })
      await client.chat.completions.create({ model: 'anything', messages: [{ role: 'user', content: 'hi' }] })
      expect(fake.requests[0]!.apiKey).toBe('sk-ant-from-env')
      expect(t.logs.join('\n')).not.toContain('sk-ant-from-env')
    } finally {
      await t.close()
      await fake.close()
    }
  })

  it('without one the server starts, warns, and answers 502 naming ANTHROPIC_API_KEY without calling upstream', async () => {
    const fake = await startFakeAnthropic()
    const t = await startClaude({ baseURL: fake.url })
    try {
      const response = await fetch(`${t.url}/claude/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ messages: [{ role: 'user', content: 'hi' }] }),
      })
      const body = await response.json()
      expect(response.status).toBe(502)
      expect(body.error.message).toContain('ANTHROPIC_API_KEY')
      expect(fake.requests).toHaveLength(0)
      expect(t.logs.some((line) => line.includes('ANTHROPIC_API_KEY'))).toBe(true)
    } finally {
      await t.close()
      await fake.close()
    }
  })
})
