// @robutler/plugin-responses: the OpenAI Responses API as a surface, driven by the real openai JS SDK over HTTP
// against agents on plugin-local: create (string and item input, instructions, function tools, structured
// output), streams, storage (retrieve, delete, input items, previous_response_id, conversations, ownership),
// background runs with cancel and resumed streams, and bad input as OpenAI-shaped errors.
import { DEFAULT_ALLOWED_PARAMS } from '@robutler/kernel'
import OpenAI, { BadRequestError, NotFoundError } from 'openai'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { chatChunk, startFakeOpenAI, type FakeOpenAI } from './fixtures/fake-openai.js'
import { getJson, postJson, startServer, type TestServer } from './helpers/test-server.js'

const ANN = 'key-ann'
const BOB = 'key-bob'
const ROOT = 'key-root'
const keys = {
  keys: {
    [ANN]: { userId: 'ann', scope: 'all' },
    [BOB]: { userId: 'bob', scope: 'all' },
    [ROOT]: { userId: 'root', scope: 'admin' },
  },
}
const weather = {
  type: 'function' as const,
  name: 'get_weather',
  description: 'Weather of a city',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  strict: false,
}
const LONG = Array.from({ length: 40 }, (_, i) => `word${i}`).join(' ')

/** The parsed SSE events of a raw streamed response body. */
function eventsOf(raw: string): any[] {
  return raw
    .split('\n\n')
    .map((block) => block.split('\n').find((line) => line.startsWith('data: ')))
    .filter((line): line is string => line !== undefined)
    .map((line) => JSON.parse(line.slice(6)))
}

describe('the Responses API surface', () => {
  let t: TestServer
  let upstream: FakeOpenAI
  let client: OpenAI
  const as = (key: string) => new OpenAI({ baseURL: t.url, apiKey: key, maxRetries: 0 })

  beforeAll(async () => {
    upstream = await startFakeOpenAI()
    t = await startServer(['local', 'responses', 'keys', 'basics', 'openai'], {
      urlPrefix: '/api/v1',
      plugins: {
        '@robutler/plugin-local': { chunkDelayMs: 15 },
        '@robutler/plugin-responses': { maxInputItems: 50 },
        '@robutler/plugin-openai': { endpoints: { fake: { baseURL: `${upstream.url}/v1` } } },
        'robutler-plugin-keys': keys,
      },
      agents: [
        { name: 'echo', model: 'local/echo', instructions: 'Be brief.', skills: { '@robutler/skill-basics': {} } },
        { name: 'inspector', model: 'local/inspect', instructions: 'Agent rules.', params: { allow: [...DEFAULT_ALLOWED_PARAMS, 'reasoning_effort'] } },
        { name: 'gpt', model: 'fake/gpt-x' },
      ],
    })
    client = as(ANN)
  })
  afterAll(async () => {
    await t?.close()
    await upstream?.close()
  })

  describe('create', () => {
    it('answers a string input: a message output item, status completed, usage with details', async () => {
      const response = await client.responses.create({ model: 'echo', input: 'Hello there!' })
      expect(response).toMatchObject({ object: 'response', model: 'echo', status: 'completed', error: null, incomplete_details: null, store: true })
      expect(response.id).toMatch(/^resp_/)
      expect(response.output_text).toBe('Hello there!')
      expect(response.output).toEqual([
        { id: expect.stringMatching(/^msg_/), type: 'message', status: 'completed', role: 'assistant', content: [{ type: 'output_text', text: 'Hello there!', annotations: [], logprobs: [] }] },
      ])
      expect(response.usage).toEqual({
        input_tokens: expect.any(Number),
        input_tokens_details: { cached_tokens: 0 },
        output_tokens: 2,
        output_tokens_details: { reasoning_tokens: 0 },
        total_tokens: expect.any(Number),
      })
    })

    it('the agent path serves the same, whatever model the body names', async () => {
      const agent = new OpenAI({ baseURL: `${t.url}/echo`, apiKey: ANN, maxRetries: 0 })
      const response = await agent.responses.create({ model: 'anything', input: 'hi there' })
      expect(response.output_text).toBe('hi there')
      expect(response.model).toBe('echo')
    })

    it('item input, instructions after the agent own, sampling fields, text.format and reasoning reach the model in chat terms', async () => {
      const response = await client.responses.create({
        model: 'inspector',
        instructions: 'Client rules.',
        input: [
          { role: 'user', content: [{ type: 'input_text', text: 'Look:' }, { type: 'input_image', image_url: 'https://example.com/cat.png', detail: 'auto' }] },
          { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'A cat.', annotations: [] }] },
          { role: 'user', content: 'And now?' },
        ],
        temperature: 0.5,
        top_p: 0.9,
        max_output_tokens: 300,
        reasoning: { effort: 'low' },
        text: { format: { type: 'json_schema', name: 'answer', schema: { type: 'object', properties: { a: { type: 'string' } } }, strict: true } },
        metadata: { ticket: 'T-1' },
      })
      const seen = JSON.parse(response.output_text)
      expect(seen.messages).toEqual([
        { role: 'system', content: 'Agent rules.' },
        { role: 'system', content: 'Client rules.' },
        { role: 'user', content: [{ type: 'text', text: 'Look:' }, { type: 'image_url', image_url: { url: 'https://example.com/cat.png', detail: 'auto' } }] },
        { role: 'assistant', content: 'A cat.' },
        { role: 'user', content: 'And now?' },
      ])
      expect(seen.params).toMatchObject({
        temperature: 0.5,
        top_p: 0.9,
        max_completion_tokens: 300,
        reasoning_effort: 'low',
        response_format: { type: 'json_schema', json_schema: { name: 'answer', schema: { type: 'object', properties: { a: { type: 'string' } } }, strict: true } },
      })
      expect(response.metadata).toEqual({ ticket: 'T-1' })
      expect(response.instructions).toBe('Client rules.')
      expect(response.temperature).toBe(0.5)
      const json = await client.responses.create({ model: 'inspector', input: 'x', text: { format: { type: 'json_object' } } })
      expect(JSON.parse(json.output_text).params.response_format).toEqual({ type: 'json_object' })
    })

    it('a function tool round trip: a function_call item, then function_call_output on previous_response_id', async () => {
      const first = await client.responses.create({ model: 'echo', input: '/tool get_weather {"city":"Paris"}', tools: [weather], tool_choice: 'auto' })
      expect(first.status).toBe('completed')
      expect(first.output).toEqual([
        { id: expect.stringMatching(/^fc_/), type: 'function_call', status: 'completed', call_id: expect.any(String), name: 'get_weather', arguments: '{"city":"Paris"}' },
      ])
      const call = first.output[0] as OpenAI.Responses.ResponseFunctionToolCall
      const second = await client.responses.create({
        model: 'echo',
        previous_response_id: first.id,
        input: [{ type: 'function_call_output', call_id: call.call_id, output: 'Sunny, 22 C' }],
        tools: [weather],
      })
      expect(second.output_text).toBe('Sunny, 22 C')
      // The same history sent as items, without storage.
      const third = await client.responses.create({
        model: 'echo',
        store: false,
        input: [
          { role: 'user', content: '/tool get_weather {"city":"Oslo"}' },
          { type: 'function_call', call_id: 'call_9', name: 'get_weather', arguments: '{"city":"Oslo"}' },
          { type: 'function_call_output', call_id: 'call_9', output: 'Snow' },
        ],
        tools: [weather],
      })
      expect(third.output_text).toBe('Snow')
      await expect(client.responses.retrieve(third.id)).rejects.toBeInstanceOf(NotFoundError)
    })

    it('namespace tools (as Codex CLI sends them): the model sees NAMESPACE__NAME, the client gets name and namespace back', async () => {
      const tools = [{ type: 'namespace', name: 'agents', description: 'Sub-agents', tools: [{ type: 'function', name: 'spawn', parameters: { type: 'object' } }] }] as any
      const first = await client.responses.create({ model: 'echo', input: '/tool agents__spawn {"task":"x"}', tools })
      expect(first.output[0]).toMatchObject({ type: 'function_call', name: 'spawn', namespace: 'agents', arguments: '{"task":"x"}' })
      const call = first.output[0] as OpenAI.Responses.ResponseFunctionToolCall
      const second = await client.responses.create({ model: 'inspector', previous_response_id: first.id, input: [{ type: 'function_call_output', call_id: call.call_id, output: 'spawned' }], tools })
      const seen = JSON.parse(second.output_text)
      expect(seen.tools).toEqual(['agents__spawn'])
      expect(seen.messages.at(-2).tool_calls[0].function.name).toBe('agents__spawn')
    })

    it('streams a client tool call: output_item.added, function_call_arguments.delta/.done, output_item.done', async () => {
      const stream = client.responses.stream({ model: 'echo', input: '/tool get_weather {"city":"Rome"}', tools: [weather] })
      const types: string[] = []
      for await (const event of stream) types.push(event.type)
      const final = await stream.finalResponse()
      expect(final.output[0]).toMatchObject({ type: 'function_call', name: 'get_weather', arguments: '{"city":"Rome"}', status: 'completed' })
      expect(types[0]).toBe('response.created')
      expect(types).toContain('response.function_call_arguments.delta')
      expect(types.slice(-3)).toEqual(['response.function_call_arguments.done', 'response.output_item.done', 'response.completed'])
    })

    it('internal tools run inside; max_output_tokens cuts the answer to status incomplete', async () => {
      const calc = await client.responses.create({ model: 'echo', input: '/tool calculate {"expression": "6*7"}' })
      expect(calc.output_text).toBe('42')
      const cut = await client.responses.create({ model: 'echo', input: LONG, max_output_tokens: 16 })
      expect(cut.status).toBe('incomplete')
      expect(cut.incomplete_details).toEqual({ reason: 'max_output_tokens' })
    })

    it('a turn that calls an agent tool and a client tool: the agent tool runs and stays in the history, only the client call is output', async () => {
      const first = await client.responses.create({ model: 'echo', input: '/tool calculate {"expression": "6*7"}\n/tool get_weather {"city":"Lima"}', tools: [weather] })
      expect(first.output.map((item: any) => [item.type, item.name])).toEqual([['function_call', 'get_weather']])
      const call = first.output[0] as OpenAI.Responses.ResponseFunctionToolCall
      const next = await client.responses.create({
        model: 'inspector',
        previous_response_id: first.id,
        input: [{ type: 'function_call_output', call_id: call.call_id, output: 'Warm' }],
        tools: [weather],
      })
      const seen = JSON.parse(next.output_text).messages.slice(1)
      expect(seen[1].tool_calls.map((c: any) => c.function.name).sort()).toEqual(['calculate', 'get_weather'])
      expect(seen.filter((m: any) => m.role === 'tool').map((m: any) => m.content)).toEqual(['42', 'Warm'])
    })

    it('previous_response_id chains three turns: each turn sees the ones before', async () => {
      const one = await client.responses.create({ model: 'echo', input: 'first turn' })
      const two = await client.responses.create({ model: 'echo', input: 'second turn', previous_response_id: one.id })
      const three = await client.responses.create({ model: 'inspector', input: 'third turn', previous_response_id: two.id })
      expect(three.previous_response_id).toBe(two.id)
      const seen = JSON.parse(three.output_text)
      expect(seen.messages.slice(1)).toEqual([
        { role: 'user', content: 'first turn' },
        { role: 'assistant', content: 'first turn' },
        { role: 'user', content: 'second turn' },
        { role: 'assistant', content: 'second turn' },
        { role: 'user', content: 'third turn' },
      ])
    })

    it('a conversation keeps every turn: conversation on create appends, items list them', async () => {
      const conversation = await client.conversations.create({ metadata: { topic: 'demo' }, items: [{ type: 'message', role: 'user', content: 'Hi, I am Ann.' }] })
      expect(conversation).toMatchObject({ object: 'conversation', metadata: { topic: 'demo' } })
      expect(conversation.id).toMatch(/^conv_/)
      await client.responses.create({ model: 'echo', input: 'one', conversation: conversation.id })
      const last = await client.responses.create({ model: 'inspector', input: 'two', conversation: { id: conversation.id } })
      expect(last.conversation).toEqual({ id: conversation.id })
      expect(JSON.parse(last.output_text).messages.slice(1).map((message: any) => message.content)).toEqual(['Hi, I am Ann.', 'one', 'one', 'two'])
      const items = await client.conversations.items.list(conversation.id, { order: 'asc' })
      expect(items.data.map((item: any) => item.content[0].text)).toEqual(['Hi, I am Ann.', 'one', 'one', 'two', expect.stringContaining('messages')])
      const page = await client.conversations.items.list(conversation.id, { order: 'asc', limit: 2 })
      expect(page.data).toHaveLength(2)
      expect(page.has_more).toBe(true)
      const added = await client.conversations.items.create(conversation.id, { items: [{ type: 'message', role: 'user', content: 'More.' }] })
      const item = await client.conversations.items.retrieve(added.data[0]!.id!, { conversation_id: conversation.id })
      expect(item).toMatchObject({ type: 'message', role: 'user' })
      await client.conversations.items.delete(added.data[0]!.id!, { conversation_id: conversation.id })
      await expect(client.conversations.items.retrieve(added.data[0]!.id!, { conversation_id: conversation.id })).rejects.toBeInstanceOf(NotFoundError)
      const updated = await client.conversations.update(conversation.id, { metadata: { topic: 'changed' } })
      expect(updated.metadata).toEqual({ topic: 'changed' })
      expect((await client.conversations.retrieve(conversation.id)).metadata).toEqual({ topic: 'changed' })
      await expect(as(BOB).conversations.retrieve(conversation.id)).rejects.toBeInstanceOf(NotFoundError)
      expect(await client.conversations.delete(conversation.id)).toMatchObject({ id: conversation.id, deleted: true })
      await expect(client.conversations.retrieve(conversation.id)).rejects.toBeInstanceOf(NotFoundError)
    })
  })

  describe('streams', () => {
    it('responses.stream() runs to its final response through the documented events, numbered from 0', async () => {
      const stream = client.responses.stream({ model: 'echo', input: 'one two three' })
      const events: any[] = []
      for await (const event of stream) events.push(event)
      const final = await stream.finalResponse()
      expect(final.output_text).toBe('one two three')
      expect(final.status).toBe('completed')
      expect(events.map((event) => event.sequence_number)).toEqual(events.map((_, i) => i))
      expect(events.map((event) => event.type)).toEqual([
        'response.created',
        'response.in_progress',
        'response.output_item.added',
        'response.content_part.added',
        'response.output_text.delta',
        'response.output_text.delta',
        'response.output_text.delta',
        'response.output_text.done',
        'response.content_part.done',
        'response.output_item.done',
        'response.completed',
      ])
      expect(events[0].response.status).toBe('in_progress')
      expect((await client.responses.retrieve(final.id)).output_text).toBe('one two three')
    })
  })

  describe('storage', () => {
    it('retrieve, inputItems.list (paged), delete; another key gets 404, an admin of the agent may read', async () => {
      const response = await client.responses.create({ model: 'echo', input: [{ role: 'user', content: 'a' }, { role: 'user', content: 'b' }, { role: 'user', content: 'c' }] })
      const got = await client.responses.retrieve(response.id)
      expect(got.output_text).toBe('c')
      const items = await client.responses.inputItems.list(response.id, { order: 'asc' })
      expect(items.data.map((item: any) => item.content[0].text)).toEqual(['a', 'b', 'c'])
      const page = await client.responses.inputItems.list(response.id, { limit: 2 })
      expect(page.data.map((item: any) => item.content[0].text)).toEqual(['c', 'b'])
      expect(page.has_more).toBe(true)
      const next = await client.responses.inputItems.list(response.id, { limit: 2, after: page.data[1]!.id })
      expect(next.data.map((item: any) => item.content[0].text)).toEqual(['a'])
      await expect(as(BOB).responses.retrieve(response.id)).rejects.toBeInstanceOf(NotFoundError)
      await expect(as(BOB).responses.delete(response.id)).rejects.toBeInstanceOf(NotFoundError)
      expect((await as(ROOT).responses.retrieve(response.id)).id).toBe(response.id)
      await client.responses.delete(response.id)
      const gone = await client.responses.retrieve(response.id).catch((error: unknown) => error)
      expect(gone).toBeInstanceOf(NotFoundError)
      expect((gone as NotFoundError).code).toBe('RBT_ERR_RESPONSE_NOT_FOUND')
    })
  })

  describe('background', () => {
    it('answers at once queued, runs on without the client, and polls to completed', async () => {
      const response = await client.responses.create({ model: 'echo', input: 'slow and steady', background: true, stream: false })
      expect(response.status).toBe('queued')
      expect(response.background).toBe(true)
      let got = await client.responses.retrieve(response.id)
      for (let i = 0; i < 100 && (got.status === 'queued' || got.status === 'in_progress'); i++) {
        await new Promise((resolve) => setTimeout(resolve, 20))
        got = await client.responses.retrieve(response.id)
      }
      expect(got.status).toBe('completed')
      expect(got.output_text).toBe('slow and steady')
    })

    it('cancel stops a run: status cancelled, the model call aborted', async () => {
      const response = await client.responses.create({ model: 'echo', input: LONG, background: true })
      await new Promise((resolve) => setTimeout(resolve, 60))
      const cancelled = await client.responses.cancel(response.id)
      expect(cancelled.status).toBe('cancelled')
      const got = await client.responses.retrieve(response.id)
      expect(got.status).toBe('cancelled')
      expect(got.output_text.split(' ').length).toBeLessThan(40)
      const done = await client.responses.create({ model: 'echo', input: 'plain' })
      const refused = await client.responses.cancel(done.id).catch((error: unknown) => error)
      expect(refused).toBeInstanceOf(BadRequestError)
    })

    it('a stream dropped after a few events resumes with starting_after: together exactly the whole stream', async () => {
      const stream = await client.responses.create({ model: 'echo', input: 'alpha beta gamma delta epsilon zeta eta theta', background: true, stream: true })
      const firstPart: any[] = []
      for await (const event of stream) {
        firstPart.push(event)
        if (firstPart.length === 6) break
      }
      const id = firstPart[0].response.id
      const last = firstPart.at(-1).sequence_number
      const rest: any[] = []
      for await (const event of await client.responses.retrieve(id, { stream: true, starting_after: last })) rest.push(event)
      const whole: any[] = []
      for await (const event of await client.responses.retrieve(id, { stream: true })) whole.push(event)
      expect([...firstPart, ...rest]).toEqual(whole)
      expect(whole.map((event) => event.sequence_number)).toEqual(whole.map((_, i) => i))
      expect(whole.at(-1).type).toBe('response.completed')
      expect(whole.at(-1).response.output[0].content[0].text).toBe('alpha beta gamma delta epsilon zeta eta theta')
      // The helper replays the whole run to its final response.
      const resumed = client.responses.stream({ response_id: id, starting_after: 3 })
      expect((await resumed.finalResponse()).output_text).toBe('alpha beta gamma delta epsilon zeta eta theta')
    })
  })

  describe('bad input is an OpenAI-shaped 400/404', () => {
    const cases: Array<[string, Record<string, unknown>, string, string | null]> = [
      ['an unknown item type', { input: [{ type: 'computer_call_output', call_id: 'x' }] }, 'RBT_ERR_RESPONSES_UNSUPPORTED', 'input[0].type'],
      ['a tool type other than function', { input: 'x', tools: [{ type: 'web_search' }] }, 'RBT_ERR_RESPONSES_UNSUPPORTED', 'tools[0].type'],
      ['an unsupported field', { input: 'x', prompt: { id: 'pmpt_1' } }, 'RBT_ERR_RESPONSES_UNSUPPORTED', 'prompt'],
      ['an unknown field', { input: 'x', nonsense: 1 }, 'RBT_ERR_INVALID_REQUEST', 'nonsense'],
      ['no input', {}, 'RBT_ERR_INVALID_REQUEST', 'input'],
      ['an oversized input', { input: Array.from({ length: 51 }, () => ({ role: 'user', content: 'x' })) }, 'RBT_ERR_INVALID_REQUEST', 'input'],
      ['a temperature out of range', { input: 'x', temperature: 3 }, 'RBT_ERR_INVALID_REQUEST', 'temperature'],
      ['background without store', { input: 'x', background: true, store: false }, 'RBT_ERR_INVALID_REQUEST', 'background'],
      ['an unknown include', { input: 'x', include: ['file_search_call.results'] }, 'RBT_ERR_RESPONSES_UNSUPPORTED', 'include[0]'],
    ]
    for (const [what, body, code, param] of cases) {
      it(what, async () => {
        const answer = await postJson(`${t.url}/responses`, { model: 'echo', ...body }, { authorization: `Bearer ${ANN}` })
        expect(answer.status).toBe(400)
        expect(answer.json.error).toMatchObject({ code, param, type: 'invalid_request_error' })
        expect(answer.json.error.message).toEqual(expect.any(String))
      })
    }

    it("another user's previous_response_id, a deleted one, a malformed starting_after, an unknown agent", async () => {
      const ann = await client.responses.create({ model: 'echo', input: 'mine' })
      const other = await as(BOB).responses.create({ model: 'echo', input: 'x', previous_response_id: ann.id }).catch((error: unknown) => error)
      expect(other).toBeInstanceOf(NotFoundError)
      expect((other as NotFoundError).error).toMatchObject({ code: 'RBT_ERR_RESPONSE_NOT_FOUND', param: 'previous_response_id' })
      await client.responses.delete(ann.id)
      await expect(client.responses.create({ model: 'echo', input: 'x', previous_response_id: ann.id })).rejects.toBeInstanceOf(NotFoundError)
      const bg = await client.responses.create({ model: 'echo', input: 'x', background: true })
      const bad = await getJson(`${t.url}/responses/${bg.id}?stream=true&starting_after=abc`, { authorization: `Bearer ${ANN}` })
      expect(bad.status).toBe(400)
      expect(bad.json.error).toMatchObject({ code: 'RBT_ERR_INVALID_REQUEST', param: 'starting_after' })
      const plain = await client.responses.create({ model: 'echo', input: 'x' })
      const notBg = await getJson(`${t.url}/responses/${plain.id}?stream=true`, { authorization: `Bearer ${ANN}` })
      expect(notBg.json.error.code).toBe('RBT_ERR_RESPONSE_NOT_BACKGROUND')
      const unknown = await postJson(`${t.url}/responses`, { model: 'nobody', input: 'x' })
      expect(unknown.status).toBe(404)
      expect(unknown.json.error.code).toBe('RBT_ERR_MODEL_NOT_FOUND')
    })
  })

  it('an error after the stream started is an error event then response.failed, never a cut stream', async () => {
    upstream.script({ sse: [chatChunk({ role: 'assistant', content: '' }), chatChunk({ content: 'partial ' }), chatChunk({ content: 'answer' })], dropAfter: 2 })
    const response = await fetch(`${t.url}/responses`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ANN}` },
      body: JSON.stringify({ model: 'gpt', input: 'hi', stream: true }),
    })
    expect(response.status).toBe(200)
    const events = eventsOf(await response.text())
    expect(events.slice(0, 2).map((event) => event.type)).toEqual(['response.created', 'response.in_progress'])
    expect(events.slice(-2).map((event) => event.type)).toEqual(['error', 'response.failed'])
    expect(events.at(-2)).toMatchObject({ code: 'RBT_ERR_PROVIDER_FAILED', message: expect.any(String) })
    expect(events.at(-1).response).toMatchObject({ status: 'failed', error: { code: 'RBT_ERR_PROVIDER_FAILED' } })
    expect(events.map((event) => event.sequence_number)).toEqual(events.map((_, i) => i))
    // The SDK's helper rejects with it rather than hang on a cut stream.
    upstream.script({ sse: [chatChunk({ role: 'assistant', content: '' }), chatChunk({ content: 'partial ' })], dropAfter: 2 })
    const failed = await client.responses.stream({ model: 'gpt', input: 'hi' }).finalResponse().catch((error: unknown) => error)
    expect(failed).toMatchObject({ type: 'error', code: 'RBT_ERR_PROVIDER_FAILED' })
  })

  it('a refused field (the agent params policy) is a plain 400 before any byte of a stream', async () => {
    const response = await postJson(`${t.url}/responses`, { model: 'echo', input: 'x', stream: true, reasoning: { effort: 'high' } }, { authorization: `Bearer ${ANN}` })
    expect(response.status).toBe(400)
    expect(response.json.error).toMatchObject({ code: 'RBT_ERR_PARAM_NOT_ALLOWED', param: 'reasoning_effort' })
  })
})
