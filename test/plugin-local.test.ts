import { describe, it, expect } from 'vitest'
import type { KernelApi, ModelDelta, ModelRequest, Provider, ToolCall } from '@robutler/kernel'
import plugin from '@robutler/plugin-local'

// A kernel with only what plugin-local touches: the provider registry.
async function registerLocal(config: Record<string, unknown> = {}): Promise<Provider> {
  const registered = new Map<string, Provider>()
  const kernel = {
    providers: {
      register: (prefix: string, provider: Provider) => void registered.set(prefix, provider),
      has: (prefix: string) => registered.has(prefix),
    },
  } as unknown as KernelApi
  await plugin.register(kernel, config)
  const provider = registered.get('local')
  if (!provider) throw new Error('plugin-local registered no provider under "local"')
  return provider
}

function request(messages: ModelRequest['messages'], extra: Partial<ModelRequest> = {}): ModelRequest {
  return { model: 'echo', messages, params: {}, ...extra }
}

const options = () => ({ signal: new AbortController().signal })

async function collect(stream: AsyncIterable<ModelDelta>): Promise<ModelDelta[]> {
  const deltas: ModelDelta[] = []
  for await (const delta of stream) deltas.push(delta)
  return deltas
}

// Reassembles streamed tool calls the way an OpenAI client does: by index, concatenating argument fragments.
function assembleToolCalls(deltas: ModelDelta[]): ToolCall[] {
  const calls: ToolCall[] = []
  for (const delta of deltas) {
    for (const part of delta.tool_calls ?? []) {
      calls[part.index] ??= { id: '', type: 'function', function: { name: '', arguments: '' } }
      const call = calls[part.index]
      if (part.id) call.id = part.id
      if (part.function?.name) call.function.name += part.function.name
      if (part.function?.arguments) call.function.arguments += part.function.arguments
    }
  }
  return calls
}

describe('plugin-local', () => {
  it('registers a provider under the "local" prefix and is branded as a plugin', async () => {
    expect(plugin.name).toBe('local')
    const provider = await registerLocal()
    expect(typeof provider.complete).toBe('function')
    expect(typeof provider.stream).toBe('function')
  })

  describe('echo', () => {
    it('answers with the text of the last user message', async () => {
      const provider = await registerLocal()
      const response = await provider.complete(
        request([
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: 'first question' },
          { role: 'assistant', content: 'first answer' },
          { role: 'user', content: 'hello there, world' },
        ]),
        options(),
      )
      expect(response.message).toEqual({ role: 'assistant', content: 'hello there, world' })
      expect(response.finish_reason).toBe('stop')
    })

    it('joins the text parts of an array content and ignores other parts', async () => {
      const provider = await registerLocal()
      const response = await provider.complete(
        request([
          {
            role: 'user',
            content: [
              { type: 'text', text: 'look ' },
              { type: 'image_url', image_url: { url: 'https://example.com/a.png' } },
              { type: 'text', text: 'at this' },
            ],
          },
        ]),
        options(),
      )
      expect(response.message.content).toBe('look at this')
    })

    it('streams word by word, and the chunks join to the whole answer exactly', async () => {
      const provider = await registerLocal()
      const text = '  Hello,  wide\tworld!\nSecond line  '
      const deltas = await collect(provider.stream(request([{ role: 'user', content: text }]), options()))
      const chunks = deltas.filter((delta) => delta.content !== undefined).map((delta) => delta.content)
      expect(chunks).toEqual(['  Hello,  ', 'wide\t', 'world!\n', 'Second ', 'line  '])
      expect(chunks.join('')).toBe(text)
      expect(deltas.at(-1)).toEqual({ finish_reason: 'stop', usage: { prompt_tokens: 5, completion_tokens: 5, total_tokens: 10 } })
      expect(deltas.slice(0, -1).every((delta) => delta.finish_reason === undefined)).toBe(true)
    })

    it('turns /tool lines into tool calls, with the JSON as given and {} by default', async () => {
      const provider = await registerLocal()
      const messages: ModelRequest['messages'] = [
        { role: 'user', content: 'Please:\n/tool calculate {"expression": "2 + 2"}\n  /tool current_time\n/toolbox is not a call' },
      ]
      const response = await provider.complete(request(messages), options())
      expect(response.finish_reason).toBe('tool_calls')
      expect(response.message.content).toBeNull()
      expect(response.message.tool_calls).toEqual([
        { id: 'call_1_0', type: 'function', function: { name: 'calculate', arguments: '{"expression": "2 + 2"}' } },
        { id: 'call_1_1', type: 'function', function: { name: 'current_time', arguments: '{}' } },
      ])
      expect(response.usage).toEqual({ prompt_tokens: 14, completion_tokens: 2, total_tokens: 16 })
    })

    it('streams tool calls as a header delta and argument fragments that reassemble to the same calls', async () => {
      const provider = await registerLocal()
      const messages: ModelRequest['messages'] = [
        { role: 'user', content: '/tool lookup {"city": "Paris", "days": 3}\n/tool ping' },
      ]
      const whole = await provider.complete(request(messages), options())
      const deltas = await collect(provider.stream(request(messages), options()))

      expect(deltas[0]).toEqual({
        tool_calls: [{ index: 0, id: 'call_1_0', type: 'function', function: { name: 'lookup', arguments: '' } }],
      })
      const fragments = deltas.filter((delta) => delta.tool_calls?.[0].index === 0 && delta.tool_calls[0].id === undefined)
      expect(fragments.length).toBeGreaterThanOrEqual(2)
      expect(assembleToolCalls(deltas)).toEqual(whole.message.tool_calls)
      expect(deltas.at(-1)).toEqual({ finish_reason: 'tool_calls', usage: whole.usage })
      expect(deltas.some((delta) => delta.content !== undefined)).toBe(false)
    })

    it('gives tool call ids that differ between turns of one conversation', async () => {
      const provider = await registerLocal()
      const first = await provider.complete(request([{ role: 'user', content: '/tool a' }]), options())
      const second = await provider.complete(
        request([
          { role: 'user', content: '/tool a' },
          { role: 'assistant', content: null, tool_calls: first.message.tool_calls },
          { role: 'tool', tool_call_id: 'call_1_0', content: 'done' },
          { role: 'user', content: '/tool a' },
        ]),
        options(),
      )
      expect(second.message.tool_calls?.[0].id).not.toBe(first.message.tool_calls?.[0].id)
    })

    it('answers trailing tool results with their texts, one a line, in order', async () => {
      const provider = await registerLocal()
      const messages: ModelRequest['messages'] = [
        { role: 'tool', tool_call_id: 'old', content: 'stale result' },
        { role: 'user', content: '/tool calculate {"expression":"1+1"}\n/tool current_time' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            { id: 'call_1_0', type: 'function', function: { name: 'calculate', arguments: '{"expression":"1+1"}' } },
            { id: 'call_1_1', type: 'function', function: { name: 'current_time', arguments: '{}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'call_1_0', content: '2' },
        { role: 'tool', tool_call_id: 'call_1_1', content: [{ type: 'text', text: '{"timezone":"UTC"}' }] },
      ]
      const response = await provider.complete(request(messages), options())
      expect(response.message).toEqual({ role: 'assistant', content: '2\n{"timezone":"UTC"}' })
      expect(response.finish_reason).toBe('stop')

      const deltas = await collect(provider.stream(request(messages), options()))
      expect(deltas.map((delta) => delta.content ?? '').join('')).toBe('2\n{"timezone":"UTC"}')
      expect(deltas.at(-1)?.finish_reason).toBe('stop')
    })

    it('counts usage in whitespace-separated words', async () => {
      const provider = await registerLocal()
      const response = await provider.complete(
        request([
          { role: 'system', content: 'You are  a helpful\nassistant.' },
          { role: 'user', content: [{ type: 'text', text: 'one two three' }] },
          { role: 'assistant', content: null },
        ]),
        options(),
      )
      expect(response.usage).toEqual({ prompt_tokens: 8, completion_tokens: 3, total_tokens: 11 })
    })

    it('answers an empty conversation with an empty text', async () => {
      const provider = await registerLocal()
      const response = await provider.complete(request([]), options())
      expect(response.message.content).toBe('')
      expect(response.usage).toEqual({ prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 })
      const deltas = await collect(provider.stream(request([]), options()))
      expect(deltas).toEqual([{ finish_reason: 'stop', usage: { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 } }])
    })
  })

  describe('echo with stop and max_tokens', () => {
    const ask = (params: Record<string, unknown>) => request([{ role: 'user', content: 'one two three four five' }], { params })

    it('cuts before the first stop sequence it contains and says which, whole and streamed', async () => {
      const provider = await registerLocal()
      const whole = await provider.complete(ask({ stop: ['five', 'three'] }), options())
      expect([whole.message.content, whole.finish_reason, whole.stop_sequence]).toEqual(['one two ', 'stop', 'three'])
      const deltas = await collect(provider.stream(ask({ stop: 'four' }), options()))
      expect(deltas.map((d) => d.content ?? '').join('')).toBe('one two three ')
      expect(deltas.at(-1)).toMatchObject({ finish_reason: 'stop', stop_sequence: 'four' })
      const missed = await provider.complete(ask({ stop: ['six'] }), options())
      expect([missed.message.content, missed.stop_sequence]).toEqual(['one two three four five', undefined])
    })

    it('keeps max_completion_tokens (else max_tokens) words and finishes with length', async () => {
      const provider = await registerLocal()
      const whole = await provider.complete(ask({ max_tokens: 2 }), options())
      expect([whole.message.content, whole.finish_reason, whole.usage?.completion_tokens]).toEqual(['one two', 'length', 2])
      const deltas = await collect(provider.stream(ask({ max_tokens: 9, max_completion_tokens: 3 }), options()))
      expect(deltas.map((d) => d.content ?? '').join('')).toBe('one two three')
      expect(deltas.at(-1)?.finish_reason).toBe('length')
      expect((await provider.complete(ask({ max_tokens: 5 }), options())).finish_reason).toBe('stop')
    })
  })

  describe('inspect', () => {
    it('answers with one line of JSON: model, messages, tool names and params', async () => {
      const provider = await registerLocal()
      const sent = request(
        [
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: 'hi' },
        ],
        {
          model: 'inspect',
          tools: [
            { type: 'function', function: { name: 'calculate', parameters: { type: 'object' } } },
            { type: 'function', function: { name: 'current_time' } },
          ],
          params: { temperature: 0.2, max_tokens: 50 },
        },
      )
      const response = await provider.complete(sent, options())
      const content = response.message.content ?? ''
      expect(content).not.toContain('\n')
      expect(JSON.parse(content)).toEqual({
        model: 'inspect',
        messages: sent.messages,
        tools: ['calculate', 'current_time'],
        params: { temperature: 0.2, max_tokens: 50 },
      })

      const deltas = await collect(provider.stream(sent, options()))
      expect(deltas.map((delta) => delta.content ?? '').join('')).toBe(content)
    })

    it('lists no tools when the request has none', async () => {
      const provider = await registerLocal()
      const response = await provider.complete(request([{ role: 'user', content: 'x' }], { model: 'inspect' }), options())
      expect(JSON.parse(response.message.content ?? '').tools).toEqual([])
    })
  })

  describe('errors and aborts', () => {
    it('refuses an unknown model, whole and streamed, naming the models it has', async () => {
      const provider = await registerLocal()
      const sent = request([{ role: 'user', content: 'hi' }], { model: 'gpt-4o' })
      await expect(provider.complete(sent, options())).rejects.toThrow("local has no model 'gpt-4o'; models: echo, inspect")
      await expect(collect(provider.stream(sent, options()))).rejects.toThrow("local has no model 'gpt-4o'")
    })

    it('stops a stream promptly when the signal fires during chunkDelayMs', async () => {
      const provider = await registerLocal({ chunkDelayMs: 200 })
      const controller = new AbortController()
      const reason = new Error('client went away')
      const received: ModelDelta[] = []
      const started = Date.now()
      setTimeout(() => controller.abort(reason), 300)
      const consume = (async () => {
        for await (const delta of provider.stream(request([{ role: 'user', content: 'one two three four five six' }]), controller)) {
          received.push(delta)
        }
      })()
      await expect(consume).rejects.toBe(reason)
      const elapsed = Date.now() - started
      expect(elapsed).toBeLessThan(390)
      // One chunk came at 200 ms; the abort at 300 ms cut the wait for the second.
      expect(received).toEqual([{ content: 'one ' }])
      await new Promise((resolve) => setTimeout(resolve, 250))
      expect(received).toHaveLength(1)
    })

    it('aborts during latencyMs, whole and streamed', async () => {
      const provider = await registerLocal({ latencyMs: 10_000 })
      const controller = new AbortController()
      setTimeout(() => controller.abort(), 50)
      const started = Date.now()
      const whole = await provider.complete(request([{ role: 'user', content: 'hi' }]), controller).catch((error: unknown) => error)
      expect(whole).toHaveProperty('name', 'AbortError')
      expect(Date.now() - started).toBeLessThan(1000)
      const streamed = await collect(provider.stream(request([{ role: 'user', content: 'hi' }]), controller)).catch((error: unknown) => error)
      expect(streamed).toBe(controller.signal.reason)
    })

    it('with no delays, never reads the signal (the kernel stops reading a stream whose client left)', async () => {
      const provider = await registerLocal()
      let reads = 0
      const options = { get signal() { reads++; return new AbortController().signal } }
      const received: ModelDelta[] = []
      for await (const delta of provider.stream(request([{ role: 'user', content: 'a b c d' }]), options)) {
        received.push(delta)
        if (received.length === 2) break
      }
      await provider.complete(request([{ role: 'user', content: 'a b' }]), options)
      expect(received).toHaveLength(2)
      expect(reads).toBe(0)
    })

    it('waits latencyMs before answering', async () => {
      const provider = await registerLocal({ latencyMs: 100 })
      const started = Date.now()
      await provider.complete(request([{ role: 'user', content: 'hi' }]), options())
      expect(Date.now() - started).toBeGreaterThanOrEqual(95)
    })

    it('rejects a negative or fractional delay', async () => {
      await expect(registerLocal({ chunkDelayMs: -1 })).rejects.toThrow(/chunkDelayMs/)
      await expect(registerLocal({ latencyMs: 1.5 })).rejects.toThrow(/latencyMs/)
    })
  })
})
