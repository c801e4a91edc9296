// plugin-prometheus on a real server: counters equal the traffic sent (streams, tools, 404s included), promtool
// accepts the text, label values stay bounded under a scan of random paths and agent names, and the ways to
// enable and configure the plugin.
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  findPromtool,
  labelValues,
  matching,
  parseMetrics,
  PROMTOOL_MISSING,
  promtoolCheck,
  REJECTING_PLUGIN,
  startPrometheusServer,
  total,
  type Sample,
} from './helpers/prometheus.js'
import { postJson, readSse, ROOT, type TestServer } from './helpers/test-server.js'

const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'
const CHAT_ROUTE = '/:agent/chat/completions'
const promtool = findPromtool()
const inCi = process.env.CI === 'true'

async function scrape(origin: string, path = '/metrics'): Promise<{ status: number; type: string | null; text: string; samples: Sample[] }> {
  const response = await fetch(`${origin}${path}`)
  const text = await response.text()
  return { status: response.status, type: response.headers.get('content-type'), text, samples: response.ok ? parseMetrics(text) : [] }
}

const originOf = (t: TestServer) => new URL(t.url).origin
const randomName = () => `z${randomBytes(6).toString('hex')}`

describe('plugin-prometheus: counters match the traffic sent', () => {
  let t: TestServer
  const usage = { prompt: 0, completion: 0, streamedPrompt: 0 }
  let metrics: Awaited<ReturnType<typeof scrape>>

  beforeAll(async () => {
    t = await startPrometheusServer(['local', 'basics', 'text'], {
      urlPrefix: '/api/v1',
      enableMonitoring: true,
      workerThreads: 1,
      agents: [{ name: 'echo', model: 'local/echo', skills: { '@robutler/skill-basics': {}, '@robutler/skill-text': {} } }],
      plugins: { '@robutler/plugin-local': {} },
    })
    const chat = `${t.url}/echo/chat/completions`
    const add = (u: { prompt_tokens: number; completion_tokens: number }) => {
      usage.prompt += u.prompt_tokens
      usage.completion += u.completion_tokens
    }
    // 37 chat requests: 17 plain, 12 streamed, 5 tool calls that succeed, one with invalid arguments, one naming a
    // tool the agent does not have, one tool run in the worker pool.
    const whole = [
      ...Array.from({ length: 17 }, (_, i) => `hello world ${i}`),
      ...Array.from({ length: 5 }, (_, i) => `/tool calculate {"expression": "${i} + 1"}`),
      '/tool calculate {"nope": true}',
      '/tool no_such_tool {}',
      '/tool count_tokens {"text": "hello world"}',
    ]
    for (const content of whole) {
      const res = await postJson(chat, { messages: [{ role: 'user', content }] })
      expect(res.status).toBe(200)
      add(res.json.usage)
    }
    for (let i = 0; i < 12; i++) {
      const response = await fetch(chat, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: `streamed words ${i} a b c` }] }),
      })
      expect(response.status).toBe(200)
      const { events, done } = await readSse(response)
      expect(done).toBe(true)
      const last = events.find((e) => e.usage)!.usage
      usage.streamedPrompt += last.prompt_tokens
      add(last)
    }
    for (let i = 0; i < 6; i++) expect((await postJson(`${t.url}/${randomName()}/chat/completions`, { messages: [{ role: 'user', content: 'hi' }] })).status).toBe(404)
    for (let i = 0; i < 4; i++) expect((await fetch(`${originOf(t)}/x/y/z${i}`)).status).toBe(404)
    for (let i = 0; i < 3; i++) expect((await fetch(`${t.url}/health`)).status).toBe(200)
    metrics = await scrape(originOf(t))
  })
  afterAll(() => t?.close())

  it('serves the text format at /metrics, outside the urlPrefix', async () => {
    expect(metrics.status).toBe(200)
    expect(metrics.type).toBe(CONTENT_TYPE)
    expect((await fetch(`${t.url}/metrics`)).status).toBe(404)
    expect(total(metrics.samples, 'robutler_server_info', { version: t.server.version })).toBe(1)
  })

  it('37 chat requests → 37 on the chat route template, by agent and status', () => {
    const s = metrics.samples
    expect(total(s, 'robutler_http_requests_total', { method: 'POST', route: CHAT_ROUTE, status: '200', agent: 'echo' })).toBe(37)
    expect(total(s, 'robutler_http_request_duration_seconds_count', { route: CHAT_ROUTE, status: '200', agent: 'echo' })).toBe(37)
    expect(total(s, 'robutler_http_request_duration_seconds_bucket', { route: CHAT_ROUTE, status: '200', agent: 'echo', le: '+Inf' })).toBe(37)
    expect(total(s, 'robutler_agent_requests_total', { agent: 'echo', status: '200' })).toBe(37)
    expect(total(s, 'robutler_agent_request_duration_seconds_count', { agent: 'echo' })).toBe(37)
    expect(total(s, 'robutler_agent_errors_total', { agent: 'echo' })).toBe(0)
  })

  it('unknown agents and unmatched paths collapse to fixed label values', () => {
    const s = metrics.samples
    expect(total(s, 'robutler_http_requests_total', { method: 'POST', route: CHAT_ROUTE, status: '404', agent: '__unknown__' })).toBe(6)
    expect(total(s, 'robutler_agent_errors_total', { agent: '__unknown__', type: 'not_found' })).toBe(6)
    expect(total(s, 'robutler_http_requests_total', { method: 'GET', route: '__unmatched__', status: '404', agent: '' })).toBe(4)
    expect(total(s, 'robutler_http_requests_total', { method: 'GET', route: '/health', status: '200', agent: '' })).toBe(3)
    expect(labelValues(s, 'robutler_http_requests_total', 'agent')).toEqual(new Set(['echo', '__unknown__', '']))
  })

  it('model calls: one per turn, streamed ones included, with their tokens and time to first token', () => {
    const s = metrics.samples
    const local = { provider: 'local', model: 'echo' }
    // 17 plain turns + 8 tool requests × 2 turns (the call, then the answer from its result).
    expect(total(s, 'robutler_llm_calls_total', { ...local, stream: 'false', status: 'ok' })).toBe(33)
    expect(total(s, 'robutler_llm_calls_total', { ...local, stream: 'true', status: 'ok' })).toBe(12)
    expect(total(s, 'robutler_llm_call_duration_seconds_count', local)).toBe(45)
    expect(total(s, 'robutler_llm_time_to_first_token_seconds_count', local)).toBe(12)
    expect(usage.streamedPrompt).toBeGreaterThan(0)
    expect(total(s, 'robutler_llm_tokens_total', { ...local, type: 'prompt' })).toBe(usage.prompt)
    expect(total(s, 'robutler_llm_tokens_total', { ...local, type: 'completion' })).toBe(usage.completion)
  })

  it('tool calls by skill, tool and status; pool tasks from the pool', () => {
    const s = metrics.samples
    const calculate = { skill: '@robutler/skill-basics', tool: 'calculate' }
    expect(total(s, 'robutler_tool_calls_total', { ...calculate, status: 'ok' })).toBe(5)
    expect(total(s, 'robutler_tool_calls_total', { ...calculate, status: 'invalid' })).toBe(1)
    expect(total(s, 'robutler_tool_calls_total', { skill: '', tool: '__unknown__', status: 'invalid' })).toBe(1)
    expect(total(s, 'robutler_tool_calls_total', { skill: '@robutler/skill-text', tool: 'count_tokens', status: 'ok' })).toBe(1)
    expect(total(s, 'robutler_tool_call_duration_seconds_count', calculate)).toBe(6)
    expect(total(s, 'robutler_worker_pool_tasks_completed_total')).toBe(1)
    expect(total(s, 'robutler_worker_pool_tasks_failed_total')).toBe(0)
    expect(total(s, 'robutler_worker_pool_threads')).toBeGreaterThanOrEqual(1)
    expect(matching(s, 'robutler_worker_pool_utilization')).toHaveLength(1)
    expect(matching(s, 'robutler_worker_pool_queue_depth')).toHaveLength(1)
  })

  it('nothing is left in progress; the scrape itself is', () => {
    const s = metrics.samples
    expect(total(s, 'robutler_http_requests_in_progress', { route: CHAT_ROUTE })).toBe(0)
    expect(total(s, 'robutler_http_requests_in_progress', { route: '/metrics', method: 'GET' })).toBe(1)
  })

  it('default process metrics carry the robutler_ prefix', () => {
    expect(matching(metrics.samples, 'robutler_process_cpu_seconds_total')).toHaveLength(1)
    expect(matching(metrics.samples, 'robutler_nodejs_heap_size_used_bytes')).toHaveLength(1)
    expect(metrics.samples.every((s) => s.name.startsWith('robutler_'))).toBe(true)
  })

  it('promtool check metrics accepts the output', async (ctx) => {
    if (!promtool) {
      if (inCi) throw new Error(`${PROMTOOL_MISSING}; under CI=true this check must run`)
      ctx.skip(PROMTOOL_MISSING)
    }
    const { code, output } = await promtoolCheck(promtool!, metrics.text)
    expect(output).toBe('')
    expect(code).toBe(0)
  })

  it('docs/operations.md lists every metric the plugin exports, and nothing it does not', async () => {
    const doc = await readFile(join(ROOT, 'docs/operations.md'), 'utf8')
    const catalogue = new Set([...doc.matchAll(/^\| `(robutler_[a-z_]+)` \|/gm)].map((m) => m[1]!))
    const exported = new Set([...metrics.text.matchAll(/^# TYPE (robutler_[a-z_]+) /gm)].map((m) => m[1]!).filter((name) => !/^robutler_(process|nodejs)_/.test(name)))
    expect(exported.size).toBeGreaterThan(20)
    expect([...exported].filter((name) => !catalogue.has(name))).toEqual([])
    // Exported only under --workers N (test/prometheus-cluster.test.ts).
    expect([...catalogue].filter((name) => !exported.has(name))).toEqual(['robutler_metrics_processes_reporting'])
  })

  it('docs/operations.md: the dashboard is valid JSON, its queries and the alert rules pass promtool', async (ctx) => {
    const doc = await readFile(join(ROOT, 'docs/operations.md'), 'utf8')
    const json = /### Grafana dashboard[\s\S]*?```json\n([\s\S]*?)\n```/.exec(doc)![1]!
    const dashboard = JSON.parse(json)
    const queries: string[] = dashboard.panels.flatMap((panel: any) => panel.targets.map((target: any) => target.expr))
    expect(queries.length).toBeGreaterThanOrEqual(10)
    const rules = /### Alert rules[\s\S]*?```yaml\n([\s\S]*?)\n```/.exec(doc)![1]!
    if (!promtool) {
      if (inCi) throw new Error(`${PROMTOOL_MISSING}; under CI=true this check must run`)
      ctx.skip(PROMTOOL_MISSING)
    }
    const dir = await mkdtemp(join(tmpdir(), 'robutler-rules-'))
    try {
      // Grafana's variables replaced by what they stand for, each query a recording rule for promtool to parse.
      const recorded = queries.map((expr, i) => `      - record: dashboard:query_${i}\n        expr: ${JSON.stringify(expr.replaceAll('$__rate_interval', '5m').replaceAll('$job', '.*'))}`)
      await writeFile(join(dir, 'alerts.yml'), rules)
      await writeFile(join(dir, 'dashboard.yml'), `groups:\n  - name: dashboard\n    rules:\n${recorded.join('\n')}\n`)
      const checked = spawnSync(promtool!, ['check', 'rules', join(dir, 'alerts.yml'), join(dir, 'dashboard.yml')], { encoding: 'utf8' })
      expect(checked.stderr).toBe('')
      expect(checked.status).toBe(0)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('a scan of 1,000 random paths and 1,000 random agent names adds a bounded number of series', async () => {
    const origin = originOf(t)
    const chatBody = JSON.stringify({ messages: [{ role: 'user', content: 'hi' }] })
    /** Random agent names on every kind of agent route: info, chat, agent health, a skill route. */
    const agentProbes = [
      (name: string) => fetch(`${t.url}/${name}`),
      (name: string) => fetch(`${t.url}/${name}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: chatBody }),
      (name: string) => fetch(`${t.url}/${name}/health`),
      (name: string) => fetch(`${t.url}/${name}/some/skill/route`, { method: 'DELETE' }),
    ]
    const randomPath = (name: string) => fetch(`${origin}/${name}/${randomName()}?q=${randomName()}`)
    // One of each kind first, so every fixed label value the scan can reach exists before counting.
    for (const probe of [randomPath, ...agentProbes]) await (await probe(randomName())).arrayBuffer()
    const before = (await scrape(origin)).samples

    const names: string[] = []
    for (let batch = 0; batch < 40; batch++) {
      // 50 at a time, one batch after another, over fetch's keep-alive pool: 1,000 paths, 1,000 agent names.
      await Promise.all(
        Array.from({ length: 50 }, async (_, i) => {
          const name = randomName()
          names.push(name)
          const probe = i % 2 === 0 ? randomPath : agentProbes[(i >> 1) % agentProbes.length]!
          const response = await probe(name)
          await response.arrayBuffer()
          expect(response.status).toBe(404)
        }),
      )
    }
    expect(names).toHaveLength(2_000)

    const after = await scrape(origin)
    // Process metrics may gain a series or two meanwhile (a new GC kind, a new handle type); ours gain none.
    const isProcess = (sample: Sample) => /^robutler_(process|nodejs)_/.test(sample.name)
    expect(after.samples.length - before.length).toBeLessThanOrEqual(60)
    expect(after.samples.filter((x) => !isProcess(x)).length - before.filter((x) => !isProcess(x)).length).toBeLessThanOrEqual(5)
    for (const name of names) expect(after.text).not.toContain(name)
    expect(labelValues(after.samples, 'robutler_http_requests_total', 'route')).toEqual(
      new Set(['__unmatched__', '/health', '/metrics', '/:agent', CHAT_ROUTE, '/:agent/health', '/:agent/*']),
    )
    expect(labelValues(after.samples, 'robutler_http_requests_total', 'agent')).toEqual(new Set(['echo', '__unknown__', '']))
    const grew = (name: string, labels: Record<string, string>) => total(after.samples, name, labels) - total(before, name, labels)
    expect(grew('robutler_http_requests_total', { route: '__unmatched__', agent: '' })).toBe(1_000)
    expect(grew('robutler_agent_requests_total', { agent: '__unknown__', status: '404' })).toBe(1_000)
    expect(grew('robutler_agent_errors_total', { agent: '__unknown__', type: 'not_found' })).toBe(1_000)
  })
})

describe('plugin-prometheus: agent labels are capped', () => {
  let t: TestServer
  beforeAll(async () => {
    t = await startPrometheusServer(['local'], {
      plugins: { '@robutler/plugin-local': {}, '@robutler/plugin-prometheus': { maxAgentLabels: 3, defaultMetrics: false } },
      agents: [{ name: 'echo', model: 'local/echo' }],
      dynamicAgents: (name) => (name.startsWith('dyn-') ? { name, model: 'local/echo' } : null),
    })
  })
  afterAll(() => t?.close())

  it('past maxAgentLabels, new agents count under __other__; the agent cache is reported', async () => {
    const ask = (agent: string) => postJson(`${t.url}/${agent}/chat/completions`, { messages: [{ role: 'user', content: 'hi' }] })
    expect((await ask('echo')).status).toBe(200)
    for (let i = 0; i < 10; i++) expect((await ask(`dyn-${i}`)).status).toBe(200)
    for (let i = 0; i < 10; i++) expect((await ask(`dyn-${i}`)).status).toBe(200)
    expect((await ask('nobody')).status).toBe(404)
    const { samples } = await scrape(originOf(t))
    expect(labelValues(samples, 'robutler_agent_requests_total', 'agent')).toEqual(new Set(['echo', 'dyn-0', 'dyn-1', '__other__', '__unknown__']))
    expect(total(samples, 'robutler_agent_requests_total', { agent: 'dyn-0' })).toBe(2)
    expect(total(samples, 'robutler_agent_requests_total', { agent: '__other__' })).toBe(16)
    expect(total(samples, 'robutler_http_requests_total', { route: CHAT_ROUTE, status: '200' })).toBe(21)
    // Names found not to exist ('nobody') are kept apart, and not counted among the cached agents.
    expect(total(samples, 'robutler_dynamic_agents_cached')).toBe(10)
    expect(total(samples, 'robutler_dynamic_agent_cache_hits_total')).toBe(10)
    expect(total(samples, 'robutler_dynamic_agent_cache_misses_total')).toBeGreaterThanOrEqual(10)
    expect(matching(samples, 'robutler_process_cpu_seconds_total')).toHaveLength(0)
  })
})

describe('plugin-prometheus: enabling and config', () => {
  it('PROMETHEUS_ENABLED=true enables it', async () => {
    const t = await startPrometheusServer(['local'], {
      env: { PROMETHEUS_ENABLED: 'true' },
      plugins: { '@robutler/plugin-local': {} },
      agents: [{ name: 'echo', model: 'local/echo' }],
    })
    try {
      const m = await scrape(originOf(t))
      expect(m.status).toBe(200)
      expect(m.type).toBe(CONTENT_TYPE)
      expect(matching(m.samples, 'robutler_server_info')).toHaveLength(1)
    } finally {
      await t.close()
    }
  })

  it('without any of them, there is no /metrics', async () => {
    const t = await startPrometheusServer(['local'], { plugins: { '@robutler/plugin-local': {} }, agents: [{ name: 'echo', model: 'local/echo' }] })
    try {
      expect((await fetch(`${originOf(t)}/metrics`)).status).toBe(404)
    } finally {
      await t.close()
    }
  })

  it('an invalid config section stops startup naming the plugin', async () => {
    await expect(
      startPrometheusServer(['local'], { plugins: { '@robutler/plugin-local': {}, '@robutler/plugin-prometheus': { path: 'metrics', extra: 1 } } }),
    ).rejects.toThrow(/plugin-prometheus/)
  })
})

describe('plugin-prometheus: path, aborted streams, rate-limit rejections', () => {
  let t: TestServer
  beforeAll(async () => {
    t = await startPrometheusServer(
      ['local'],
      {
        urlPrefix: '/v1',
        plugins: {
          '@robutler/plugin-local': { chunkDelayMs: 20 },
          '@robutler/plugin-prometheus': { path: '/ops/prom', defaultMetrics: false },
          'robutler-plugin-rejecting': {},
        },
        agents: [{ name: 'echo', model: 'local/echo' }],
      },
      [REJECTING_PLUGIN],
    )
  })
  afterAll(() => t?.close())

  it('serves at the configured path only', async () => {
    const origin = originOf(t)
    expect((await fetch(`${origin}/metrics`)).status).toBe(404)
    const m = await scrape(origin, '/ops/prom')
    expect(m.status).toBe(200)
    expect(m.samples.some((s) => s.name.startsWith('robutler_process_'))).toBe(false)
  })

  it('a client that leaves mid-stream: counted as aborted, and no longer in progress', async () => {
    await new Promise<void>((resolve, reject) => {
      const req = request(`${t.url}/echo/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
        res.once('data', () => {
          req.destroy()
          resolve()
        })
      })
      req.on('error', (error: NodeJS.ErrnoException) => (error.code === 'ECONNRESET' ? undefined : reject(error)))
      req.end(JSON.stringify({ stream: true, messages: [{ role: 'user', content: 'one two three four five six seven eight nine ten' }] }))
    })
    const origin = originOf(t)
    const deadline = Date.now() + 5_000
    let samples: Sample[] = []
    do {
      await new Promise((r) => setTimeout(r, 50))
      samples = (await scrape(origin, '/ops/prom')).samples
    } while (
      (total(samples, 'robutler_http_requests_aborted_total', { route: CHAT_ROUTE }) < 1 || total(samples, 'robutler_llm_calls_total', { status: 'aborted' }) < 1) &&
      Date.now() < deadline
    )
    expect(total(samples, 'robutler_http_requests_aborted_total', { method: 'POST', route: CHAT_ROUTE })).toBe(1)
    expect(total(samples, 'robutler_http_requests_in_progress', { route: CHAT_ROUTE })).toBe(0)
    // The model call the client abandoned: `aborted`, as docs/operations.md says, not a provider error.
    expect(total(samples, 'robutler_llm_calls_total', { provider: 'local', model: 'echo', stream: 'true', status: 'aborted' })).toBe(1)
    expect(samples.filter((s) => s.name === 'robutler_llm_calls_total' && !['ok', 'aborted'].includes(s.labels.status!))).toEqual([])
  })

  it('limit:rejected events count by limit; both limits are there from the start', async () => {
    const origin = originOf(t)
    let samples = (await scrape(origin, '/ops/prom')).samples
    expect(total(samples, 'robutler_rate_limit_rejections_total', { limit: 'rate' })).toBe(0)
    expect(total(samples, 'robutler_rate_limit_rejections_total', { limit: 'parallel' })).toBe(0)
    for (let i = 0; i < 3; i++) expect((await fetch(`${origin}/test/reject/rate`, { method: 'POST' })).status).toBe(429)
    expect((await fetch(`${origin}/test/reject/parallel`, { method: 'POST' })).status).toBe(429)
    samples = (await scrape(origin, '/ops/prom')).samples
    expect(total(samples, 'robutler_rate_limit_rejections_total', { limit: 'rate' })).toBe(3)
    expect(total(samples, 'robutler_rate_limit_rejections_total', { limit: 'parallel' })).toBe(1)
  })
})
