// @robutler/plugin-otel end to end: a real server, the real openai SDK against the scripted fake upstream, and the
// real OTLP/HTTP exporter posting to a receiver that decodes the payload (JSON here, protobuf in one test).
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { chatCompletion, startFakeOpenAI, textChunks } from './fixtures/fake-openai.js'
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from './helpers/otlp-receiver.js'
import { postJson, readSse, startServer, type TestServer } from './helpers/test-server.js'

type Fake = Awaited<ReturnType<typeof startFakeOpenAI>>

const STDIO_FIXTURE = fileURLToPath(new URL('./fixtures/mcp/stdio-server.mjs', import.meta.url))

const SERVER = 2
const CLIENT = 3
const ERROR = 2
const CLIENT_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736'
const CLIENT_SPAN = '00f067aa0ba902b7'
const CONTENT_KEYS = ['gen_ai.input.messages', 'gen_ai.output.messages', 'gen_ai.system_instructions', 'gen_ai.tool.call.arguments', 'gen_ai.tool.call.result']

function otelServer(fake: Fake, receiver: OtlpReceiver, otel: Record<string, unknown>, env: Record<string, string> = {}): Promise<TestServer> {
  return startServer(['openai', 'otel', 'probe', 'keys'], {
    providerRetries: 1,
    env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_BSP_SCHEDULE_DELAY: '20', OTEL_SERVICE_NAME: 'otel-test', ...env },
    plugins: {
      '@robutler/plugin-openai': { apiKey: 'sk-test-KEYKEYKEYKEY', baseURL: `${fake.url}/v1` },
      '@robutler/plugin-otel': otel,
      'robutler-plugin-keys': { keys: { 'key-ann-SECRET': { userId: 'ann', scope: 'all' } } },
    },
    agents: [{ name: 'tooly', model: 'openai/gpt-a', fallbackModels: ['openai/gpt-b'], instructions: 'You add numbers.', skills: { 'robutler-skill-probe': {} } }],
  })
}

const ofTrace = (spans: ReceivedSpan[], traceId: string) => spans.filter((s) => s.traceId === traceId)
const byName = (spans: ReceivedSpan[], name: string) => spans.filter((s) => s.name === name)
const started = (spans: ReceivedSpan[]) => [...spans].sort((a, b) => (a.startNs < b.startNs ? -1 : 1))

/** The trace of the request whose server span carries this request id, once `count` of its spans have arrived. */
async function traceOf(receiver: OtlpReceiver, requestId: string, count: number): Promise<ReceivedSpan[]> {
  let traceId = ''
  await receiver.waitFor((spans) => {
    traceId = spans.find((s) => s.attributes['robutler.request_id'] === requestId)?.traceId ?? ''
    return traceId !== '' && ofTrace(spans, traceId).length >= count
  })
  return ofTrace(receiver.spans, traceId)
}

/** A fake upstream, a receiver and a server exporting to it, for the tests of one describe block. */
function setUp(otel: Record<string, unknown>, env: Record<string, string> = {}): { fake: Fake; receiver: OtlpReceiver; t: TestServer } {
  const parts = {} as { fake: Fake; receiver: OtlpReceiver; t: TestServer }
  beforeAll(async () => {
    parts.fake = await startFakeOpenAI()
    parts.receiver = await startOtlpReceiver()
    parts.t = await otelServer(parts.fake, parts.receiver, otel, env)
  })
  afterAll(async () => {
    await parts.t?.close()
    await parts.receiver?.close()
    await parts.fake?.close()
  })
  beforeEach(() => parts.fake.reset())
  return parts
}

describe('plugin-otel', () => {
  const parts = setUp({})
  let fake: Fake
  let receiver: OtlpReceiver
  let t: TestServer
  beforeEach(() => ({ fake, receiver, t } = parts))

  it('a tool loop with a retry and a fallback is one trace: HTTP → invoke_agent → chat per attempt and execute_tool', async () => {
    fake.scriptModel('gpt-a', { error: 503 }, { error: 500 }, { json: chatCompletion({ content: 'The sum is 5.' }) })
    fake.scriptModel('gpt-b', { json: chatCompletion({ tool_calls: [{ id: 'call_add_1', function: { name: 'add', arguments: '{"a":2,"b":3}' } }] }) })
    const res = await postJson(
      `${t.url}/tooly/chat/completions`,
      { messages: [{ role: 'user', content: 'what is 2+3?' }], temperature: 0.3, max_tokens: 50, stop: ['END'] },
      { traceparent: `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01`, authorization: 'Bearer key-ann-SECRET' },
    )
    expect(res.status).toBe(200)
    expect(res.json.choices[0].message.content).toBe('The sum is 5.')
    const requestId = res.headers.get('x-request-id')!
    const spans = await traceOf(receiver, requestId, 7)
    expect(spans).toHaveLength(7)

    // The client's trace continues: the server span's parent is the client's span.
    const [http] = spans.filter((s) => s.kind === SERVER)
    expect(http!.traceId).toBe(CLIENT_TRACE)
    expect(http!.parentSpanId).toBe(CLIENT_SPAN)
    expect(http!.name).toBe('POST /:agent/chat/completions')
    expect(http!.attributes).toMatchObject({ 'http.request.method': 'POST', 'http.route': '/:agent/chat/completions', 'http.response.status_code': 200 })
    expect(http!.status.code).toBe(0)
    expect(http!.resource['service.name']).toBe('otel-test')

    const [run] = byName(spans, 'invoke_agent tooly')
    expect(run!.parentSpanId).toBe(http!.spanId)
    expect(run!.attributes).toMatchObject({
      'gen_ai.operation.name': 'invoke_agent',
      'gen_ai.agent.name': 'tooly',
      'gen_ai.response.finish_reasons': ['stop'],
      'gen_ai.usage.input_tokens': 22,
      'gen_ai.usage.output_tokens': 14,
      'gen_ai.response.model': 'openai/gpt-a',
      'robutler.surface': 'chat_completions',
    })
    // The caller's user id, never its key.
    expect(run!.attributes['user.id']).toBe('ann')
    expect(JSON.stringify(spans, (_k, v) => (typeof v === 'bigint' ? String(v) : v))).not.toContain('key-ann-SECRET')

    const chats = started(spans.filter((s) => s.attributes['gen_ai.operation.name'] === 'chat'))
    expect(chats.map((s) => s.name)).toEqual(['chat gpt-a', 'chat gpt-a', 'chat gpt-b', 'chat gpt-a'])
    for (const chat of chats) {
      expect(chat.parentSpanId).toBe(run!.spanId)
      expect(chat.kind).toBe(CLIENT)
      expect(chat.attributes).toMatchObject({ 'gen_ai.provider.name': 'openai', 'gen_ai.request.temperature': 0.3, 'gen_ai.request.max_tokens': 50, 'gen_ai.request.stop_sequences': ['END'] })
    }
    expect(chats.map((s) => [s.attributes['robutler.model.fallback'], s.attributes['robutler.model.attempt']])).toEqual([[0, 0], [0, 1], [1, 0], [0, 0]])
    expect(chats.map((s) => s.status.code)).toEqual([ERROR, ERROR, 0, 0])
    expect(chats[0]!.attributes['error.type']).toBe('server')
    expect(chats[1]!.attributes['error.type']).toBe('server')
    expect(chats[2]!.attributes).toMatchObject({ 'gen_ai.response.model': 'gpt-b', 'gen_ai.response.finish_reasons': ['tool_calls'], 'gen_ai.usage.input_tokens': 11, 'gen_ai.usage.output_tokens': 7 })
    expect(chats[3]!.attributes).toMatchObject({ 'gen_ai.response.finish_reasons': ['stop'] })

    const [tool] = byName(spans, 'execute_tool add')
    expect(tool!.parentSpanId).toBe(run!.spanId)
    expect(tool!.attributes).toMatchObject({
      'gen_ai.operation.name': 'execute_tool',
      'gen_ai.tool.name': 'add',
      'gen_ai.tool.call.id': 'call_add_1',
      'gen_ai.tool.type': 'function',
      'robutler.skill': 'robutler-skill-probe',
      'robutler.tool.kind': 'inline',
      'robutler.tool.status': 'ok',
    })
    expect(tool!.status.code).toBe(0)
    // Between the call that asked for it and the one that read its result.
    expect(tool!.startNs).toBeGreaterThan(chats[2]!.startNs)
    expect(tool!.endNs).toBeLessThan(chats[3]!.endNs)

    // Every upstream attempt carried the traceparent of its own chat span.
    expect(fake.requests.map((r) => r.headers.traceparent)).toEqual(
      [chats[0], chats[1], chats[2], chats[3]].map((s) => `00-${CLIENT_TRACE}-${s!.spanId}-01`),
    )

    // No content unless opted in.
    for (const span of spans) for (const key of CONTENT_KEYS) expect(span.attributes[key]).toBeUndefined()

    // The request's log lines carry the trace.
    const lines = t.logs.flatMap((c) => c.split('\n')).filter(Boolean).map((l) => JSON.parse(l)).filter((l) => l.reqId === requestId)
    expect(lines.length).toBeGreaterThan(0)
    for (const line of lines) expect(line).toMatchObject({ trace_id: CLIENT_TRACE, span_id: http!.spanId })
  })

  it('a failed tool call is an execute_tool span with an error status and type', async () => {
    fake.script(
      { json: chatCompletion({ tool_calls: [{ id: 'call_boom', function: { name: 'boom', arguments: '{}' } }] }) },
      { json: chatCompletion({ content: 'it broke' }) },
    )
    const res = await postJson(`${t.url}/tooly/chat/completions`, { messages: [{ role: 'user', content: 'boom' }] })
    expect(res.status).toBe(200)
    const spans = await traceOf(receiver, res.headers.get('x-request-id')!, 5)
    const [tool] = byName(spans, 'execute_tool boom')
    expect(tool!.status.code).toBe(ERROR)
    expect(tool!.attributes).toMatchObject({ 'error.type': 'RBT_ERR_TOOL_FAILED', 'robutler.tool.status': 'error' })
    // A request with no traceparent starts a trace of its own; an anonymous one has no user.
    expect(spans.find((s) => s.kind === SERVER)!.parentSpanId).toBe('')
    expect(byName(spans, 'invoke_agent tooly')[0]!.attributes['user.id']).toBeUndefined()
  })

  it("a streamed request's chat span ends when the stream ends, with usage and time to first chunk", async () => {
    fake.script({ sse: textChunks('one two three four'), delayMs: [0, 0, 100, 100, 100, 0, 0] })
    const response = await fetch(`${t.url}/tooly/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ stream: true, messages: [{ role: 'user', content: 'count' }] }),
    })
    const { done } = await readSse(response)
    expect(done).toBe(true)
    const spans = await traceOf(receiver, response.headers.get('x-request-id')!, 3)
    const [chat] = byName(spans, 'chat gpt-a')
    const [run] = byName(spans, 'invoke_agent tooly')
    expect(chat!.attributes).toMatchObject({ 'gen_ai.request.stream': true, 'gen_ai.usage.input_tokens': 11, 'gen_ai.usage.output_tokens': 7, 'gen_ai.response.finish_reasons': ['stop'] })
    expect(chat!.attributes['gen_ai.response.time_to_first_chunk']).toBeGreaterThan(0)
    // It lasted as long as the stream did (three 100 ms gaps), and ended inside the run.
    expect(Number(chat!.endNs - chat!.startNs) / 1e6).toBeGreaterThanOrEqual(290)
    expect(chat!.endNs).toBeLessThanOrEqual(run!.endNs)
  })

  it('a client that disconnects mid-stream ends every span of its request with an error status', async () => {
    fake.script({ sse: textChunks('alpha beta gamma delta'), delayMs: [0, 0, 10_000] })
    const controller = new AbortController()
    const response = await fetch(`${t.url}/tooly/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ stream: true, messages: [{ role: 'user', content: 'talk' }] }),
      signal: controller.signal,
    })
    const requestId = response.headers.get('x-request-id')!
    const reader = response.body!.getReader()
    await reader.read()
    controller.abort()
    const spans = await traceOf(receiver, requestId, 3)
    expect(spans.map((s) => s.name).sort()).toEqual(['POST /:agent/chat/completions', 'chat gpt-a', 'invoke_agent tooly'])
    for (const span of spans) expect(span.status.code).toBe(ERROR)
    const server = spans.find((s) => s.kind === SERVER)!
    expect(server.attributes['error.type']).toBe('client_closed')
    // The stream's headers had gone out: the status they carried stays on the span.
    expect(server.attributes['http.response.status_code']).toBe(200)
    await fake.waitFor(() => fake.closed.length >= 1)
  })
})

describe('plugin-otel with content capture and protobuf', () => {
  const parts = setUp({ captureContent: true, maxContentBytes: 300 }, { OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' })
  let fake: Fake
  let receiver: OtlpReceiver
  let t: TestServer
  beforeEach(() => ({ fake, receiver, t } = parts))

  it('records prompts, completions and tool payloads, redacted and truncated, over OTLP protobuf', async () => {
    fake.script(
      { json: chatCompletion({ tool_calls: [{ id: 'call_1', function: { name: 'add', arguments: '{"a":1,"b":2}' } }] }) },
      { json: chatCompletion({ content: 'three' }) },
    )
    const secret = 'sk-live-SECRETSECRETSECRET'
    const res = await postJson(`${t.url}/tooly/chat/completions`, { messages: [{ role: 'user', content: `my key is ${secret}; add 1 and 2. ${'x'.repeat(1000)}` }] })
    expect(res.status).toBe(200)
    const spans = await traceOf(receiver, res.headers.get('x-request-id')!, 5)
    expect(receiver.contentTypes.every((type) => type === 'application/x-protobuf')).toBe(true)
    const chats = started(byName(spans, 'chat gpt-a'))
    const input = chats[0]!.attributes['gen_ai.input.messages'] as string
    expect(input).toContain('my key is [redacted]; add 1 and 2.')
    expect(input).not.toContain('SECRET')
    expect(input.endsWith('…[truncated]')).toBe(true)
    expect(Buffer.byteLength(input)).toBeLessThanOrEqual(300)
    expect(JSON.parse(chats[0]!.attributes['gen_ai.system_instructions'] as string)).toEqual([{ type: 'text', content: expect.stringContaining('You add numbers.') }])
    expect(JSON.parse(chats[0]!.attributes['gen_ai.output.messages'] as string)).toEqual([
      { role: 'assistant', parts: [{ type: 'tool_call', id: 'call_1', name: 'add', arguments: { a: 1, b: 2 } }], finish_reason: 'tool_calls' },
    ])
    expect(JSON.parse(chats[1]!.attributes['gen_ai.output.messages'] as string)).toEqual([{ role: 'assistant', parts: [{ type: 'text', content: 'three' }], finish_reason: 'stop' }])
    const [tool] = byName(spans, 'execute_tool add')
    expect(tool!.attributes['gen_ai.tool.call.arguments']).toBe('{"a":1,"b":2}')
    expect(JSON.parse(tool!.attributes['gen_ai.tool.call.result'] as string)).toMatchObject({ sum: 3 })
  })
})

// The request thread hands protobuf batches over through a ring in shared memory sized by the queue (about 1 KiB a
// span, 300 KiB here): a few hundred requests with their prompts recorded go round it more than once.
describe('plugin-otel handing many spans over (protobuf)', () => {
  const parts = setUp({ captureContent: true }, { OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf', OTEL_BSP_MAX_QUEUE_SIZE: '300', OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '50' })

  it('every span of every request arrives whole, in its trace', async () => {
    const { fake, receiver, t } = parts
    fake.always({ json: chatCompletion({ content: 'fine' }) })
    const requests = 250
    const ids: string[] = []
    let next = 0
    const worker = async () => {
      for (let i = next++; i < requests; i = next++) {
        const res = await postJson(`${t.url}/tooly/chat/completions`, { messages: [{ role: 'user', content: `request ${i}: ${'ü'.repeat(600)}` }] })
        expect(res.status).toBe(200)
        ids[i] = res.headers.get('x-request-id')!
      }
    }
    await Promise.all(Array.from({ length: 8 }, worker))
    const spans = await receiver.waitFor((all) => all.length >= requests * 3, 20_000)
    expect(spans).toHaveLength(requests * 3)
    const bytes = spans.reduce((n, s) => n + Buffer.byteLength(JSON.stringify(s.attributes)), 0)
    expect(bytes).toBeGreaterThan(1.5 * 300 * 1024)
    for (let i = 0; i < requests; i++) {
      const http = spans.find((s) => s.attributes['robutler.request_id'] === ids[i])!
      const trace = ofTrace(spans, http.traceId)
      expect(trace.map((s) => s.name).sort()).toEqual(['POST /:agent/chat/completions', 'chat gpt-a', 'invoke_agent tooly'])
      const run = byName(trace, 'invoke_agent tooly')[0]!
      const chat = byName(trace, 'chat gpt-a')[0]!
      expect([http.parentSpanId, run.parentSpanId, chat.parentSpanId]).toEqual(['', http.spanId, run.spanId])
      expect(chat.attributes['gen_ai.input.messages']).toContain(`request ${i}: ${'ü'.repeat(600)}`)
      expect(chat.endNs).toBeGreaterThan(chat.startNs)
    }
  })
})

describe('plugin-otel handing large spans over (protobuf)', () => {
  // 100 KB of content a span allowed, a queue of 256 spans (256 KiB of ring by count): the ring is sized for the
  // largest spans too, and a batch goes over once it is a quarter of the ring, however few spans it holds.
  const parts = setUp({ captureContent: true, maxContentBytes: 100_000 }, { OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf', OTEL_BSP_MAX_QUEUE_SIZE: '256' })

  it('spans with 90 KB prompts arrive whole', async () => {
    const { fake, receiver, t } = parts
    fake.always({ json: chatCompletion({ content: 'long read' }) })
    const ids: string[] = []
    for (let i = 0; i < 30; i++) {
      const res = await postJson(`${t.url}/tooly/chat/completions`, { messages: [{ role: 'user', content: `prompt ${i} ${'p'.repeat(90_000)}` }] })
      expect(res.status).toBe(200)
      ids.push(res.headers.get('x-request-id')!)
    }
    const spans = await receiver.waitFor((all) => all.filter((s) => s.name === 'chat gpt-a').length >= 30, 20_000)
    for (let i = 0; i < 30; i++) {
      const http = spans.find((s) => s.attributes['robutler.request_id'] === ids[i])!
      const [chat] = byName(ofTrace(spans, http.traceId), 'chat gpt-a')
      expect(chat!.attributes['gen_ai.input.messages']).toContain(`prompt ${i} ${'p'.repeat(90_000)}`)
    }
  })
})

// The SDK's exporter posts JSON; protobuf is the plugin's own encoder and sender: both must drop and warn alike.
describe.each(['http/json', 'http/protobuf'])('plugin-otel with a collector that cannot be reached (%s)', (protocol) => {
  let fake: Fake
  let t: TestServer

  beforeAll(async () => {
    fake = await startFakeOpenAI()
    // A port that was free a moment ago: nothing listens there.
    const closed = createServer()
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
    const { port } = closed.address() as AddressInfo
    await new Promise((resolve) => closed.close(resolve))
    t = await otelServer(fake, { url: `http://127.0.0.1:${port}` } as OtlpReceiver, {}, { OTEL_EXPORTER_OTLP_TIMEOUT: '300', OTEL_EXPORTER_OTLP_PROTOCOL: protocol })
  })
  afterAll(async () => {
    await t?.close()
    await fake?.close()
  })

  it('answers as usual, drops the batches and warns once a minute', async () => {
    fake.always({ json: chatCompletion({ content: 'fine' }) })
    const warnings = () => t.logs.flatMap((c) => c.split('\n')).filter((l) => l.includes('trace export failed'))
    for (let i = 0; i < 3; i++) {
      const res = await postJson(`${t.url}/tooly/chat/completions`, { messages: [{ role: 'user', content: 'hi' }] })
      expect(res.status).toBe(200)
      await new Promise((r) => setTimeout(r, 400))
    }
    await fake.waitFor(() => warnings().length > 0, 5000)
    await new Promise((r) => setTimeout(r, 500))
    expect(warnings()).toHaveLength(1)
    expect(JSON.parse(warnings()[0]!)).toMatchObject({ level: 'warn', droppedSpans: expect.any(Number) })
  })
})

describe('plugin-otel with an MCP tool', () => {
  let fake: Fake
  let receiver: OtlpReceiver
  let t: TestServer

  beforeAll(async () => {
    fake = await startFakeOpenAI()
    receiver = await startOtlpReceiver()
    t = await startServer(['openai', 'otel', 'skillMcp'], {
      env: { PATH: process.env.PATH!, HOME: '/tmp', OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_BSP_SCHEDULE_DELAY: '20' },
      plugins: { '@robutler/plugin-openai': { apiKey: 'sk-test-KEYKEYKEYKEY', baseURL: `${fake.url}/v1` }, '@robutler/plugin-otel': {} },
      agents: [{ name: 'mcpy', model: 'openai/gpt-a', skills: { '@robutler/skill-mcp': { servers: { fx: { command: process.execPath, args: [STDIO_FIXTURE] } }, tools: ['fx__whoami'] } } }],
    })
  })
  afterAll(async () => {
    await t?.close()
    await receiver?.close()
    await fake?.close()
  })

  it("an MCP tool call is an execute_tool span of kind mcp whose traceparent reaches the server in the call's _meta", async () => {
    fake.script(
      { json: chatCompletion({ tool_calls: [{ id: 'call_who', function: { name: 'fx__whoami', arguments: '{}' } }] }) },
      { json: chatCompletion({ content: 'done' }) },
    )
    const res = await postJson(`${t.url}/mcpy/chat/completions`, { messages: [{ role: 'user', content: 'who are you?' }] })
    expect(res.status).toBe(200)
    const spans = await traceOf(receiver, res.headers.get('x-request-id')!, 5)
    const [tool] = byName(spans, 'execute_tool fx__whoami')
    expect(tool!.attributes).toMatchObject({ 'robutler.tool.kind': 'mcp', 'gen_ai.tool.type': 'extension', 'robutler.skill': '@robutler/skill-mcp' })
    const toolMessage = fake.requests[1]!.body.messages.find((m: { role: string }) => m.role === 'tool')
    expect(JSON.parse(toolMessage.content).traceparent).toBe(`00-${tool!.traceId}-${tool!.spanId}-01`)
  })
})

describe('plugin-otel with an agent loaded from a portal', () => {
  let fake: Fake
  let receiver: OtlpReceiver
  let t: TestServer
  const portalHeaders: Array<Record<string, unknown>> = []
  const portal = createServer((req, res) => {
    portalHeaders.push({ ...req.headers })
    const answer = () => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ name: req.url!.split('/').pop(), model: 'openai/gpt-a' }))
    // The agent 'slow' takes its time to load.
    if (req.url!.endsWith('/slow')) setTimeout(answer, 2000)
    else answer()
  })

  beforeAll(async () => {
    await new Promise<void>((resolve) => portal.listen(0, '127.0.0.1', resolve))
    fake = await startFakeOpenAI()
    receiver = await startOtlpReceiver()
    t = await startServer(['openai', 'otel', 'agentsHttp'], {
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_BSP_SCHEDULE_DELAY: '20' },
      plugins: {
        '@robutler/plugin-openai': { apiKey: 'sk-test-KEYKEYKEYKEY', baseURL: `${fake.url}/v1` },
        '@robutler/plugin-otel': {},
        '@robutler/plugin-agents-http': { baseURL: `http://127.0.0.1:${(portal.address() as AddressInfo).port}/agents` },
      },
    })
  })
  afterAll(async () => {
    await t?.close()
    await receiver?.close()
    await fake?.close()
    portal.closeAllConnections()
    await new Promise((resolve) => portal.close(resolve))
  })

  it("the portal load carries the traceparent of the request's server span", async () => {
    fake.script({ json: chatCompletion({ content: 'from afar' }) })
    const res = await postJson(`${t.url}/far/chat/completions`, { messages: [{ role: 'user', content: 'hi' }] })
    expect(res.status).toBe(200)
    const spans = await traceOf(receiver, res.headers.get('x-request-id')!, 3)
    const http = spans.find((s) => s.kind === SERVER)!
    expect(portalHeaders).toHaveLength(1)
    expect(portalHeaders[0]!.traceparent).toBe(`00-${http.traceId}-${http.spanId}-01`)
  })

  it('a client that leaves while its agent is still loading ends the server span then, with an error status', async () => {
    const aborted = new AbortController()
    const left = fetch(`${t.url}/slow/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"messages":[{"role":"user","content":"hi"}]}', signal: aborted.signal }).catch((error: Error) => error)
    await new Promise((r) => setTimeout(r, 300))
    aborted.abort()
    expect(await left).toBeInstanceOf(Error)
    // Well before the portal answers (2 s): the span ended when the client left, not when the load did.
    const [span] = await receiver.waitFor((spans) => spans.some((s) => s.name === 'POST /:agent/chat/completions' && s.attributes['url.path'] === '/slow/chat/completions'), 1200)
      .then((spans) => spans.filter((s) => s.attributes['url.path'] === '/slow/chat/completions'))
    expect(span!.status.code).toBe(ERROR)
    expect(span!.attributes['error.type']).toBe('client_closed')
    expect(span!.attributes['http.response.status_code']).toBeUndefined()
  })
})

describe('plugin-otel configuration', () => {
  it('a bad OTEL_* value stops startup naming the variable; OTEL_SDK_DISABLED=true records nothing', async () => {
    const fake = await startFakeOpenAI()
    const receiver = await startOtlpReceiver()
    try {
      for (const [name, value] of [['OTEL_TRACES_SAMPLER', 'sometimes'], ['OTEL_TRACES_SAMPLER_ARG', '2'], ['OTEL_EXPORTER_OTLP_PROTOCOL', 'grpc'], ['OTEL_BSP_SCHEDULE_DELAY', 'soon']]) {
        const failed = await otelServer(fake, receiver, {}, { [name]: value }).then(
          async (t) => {
            await t.close()
            return null
          },
          (error: any) => error,
        )
        expect(failed?.problems?.[0]?.code ?? failed?.code).toBe('RBT_ERR_PLUGIN_BOOT_FAILED')
        expect(String(failed?.message)).toContain(name)
      }
      const t = await otelServer(fake, receiver, {}, { OTEL_SDK_DISABLED: 'true' })
      try {
        fake.script({ json: chatCompletion({ content: 'untraced' }) })
        const res = await postJson(`${t.url}/tooly/chat/completions`, { messages: [{ role: 'user', content: 'hi' }] })
        expect(res.status).toBe(200)
        expect(fake.requests[0]!.headers.traceparent).toBeUndefined()
        await new Promise((r) => setTimeout(r, 200))
        expect(receiver.spans).toHaveLength(0)
      } finally {
        await t.close()
      }
    } finally {
      await receiver.close()
      await fake.close()
    }
  })

  // Samplers decide as the SDK's: traceidratio on the trace id (the XOR of its four 32-bit words against ratio × 2³²,
  // whoever started the trace), parentbased_* by the client's sampled flag when a traceparent came.
  it.each([
    ['traceidratio', '0.5', '00000000000000000000000000000001', '01', true],
    ['traceidratio', '0.5', 'ffffffff000000000000000000000000', '01', false],
    ['traceidratio', '0.5', '7fffffff800000000000000000000001', '00', false],
    ['traceidratio', '0.5', '7fffffff000000000000000000000001', '00', true],
    ['parentbased_always_on', '', '4bf92f3577b34da6a3ce929d0e0e4736', '00', false],
    ['parentbased_always_off', '', '4bf92f3577b34da6a3ce929d0e0e4736', '01', true],
    ['parentbased_traceidratio', '0', '4bf92f3577b34da6a3ce929d0e0e4736', '01', true],
  ])('%s (%s) on trace %s flags %s: sampled %s', async (sampler, arg, traceId, flags, sampled) => {
    const fake = await startFakeOpenAI()
    const receiver = await startOtlpReceiver()
    const t = await otelServer(fake, receiver, {}, { OTEL_TRACES_SAMPLER: sampler, ...(arg ? { OTEL_TRACES_SAMPLER_ARG: arg } : {}) })
    try {
      fake.always({ json: chatCompletion({ content: 'maybe traced' }) })
      const res = await postJson(`${t.url}/tooly/chat/completions`, { messages: [{ role: 'user', content: 'hi' }] }, { traceparent: `00-${traceId}-${CLIENT_SPAN}-${flags}` })
      expect(res.status).toBe(200)
      if (sampled) {
        const spans = await traceOf(receiver, res.headers.get('x-request-id')!, 3)
        expect(spans.every((s) => s.traceId === traceId)).toBe(true)
        expect(fake.requests[0]!.headers.traceparent).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`))
      } else {
        await new Promise((r) => setTimeout(r, 200))
        expect(receiver.spans).toHaveLength(0)
        expect(fake.requests[0]!.headers.traceparent).toBeUndefined()
      }
    } finally {
      await t.close()
      await receiver.close()
      await fake.close()
    }
  })
})
