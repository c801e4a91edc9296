// The metric catalogue: every metric this plugin exports, on one kernel's own Registry. docs/operations.md lists
// the same names, types and labels; keep the two in step.
import { Counter, Gauge, type Registry } from 'prom-client'
import type { KernelApi } from '@robutler/kernel'
import { CounterFamily, HistogramFamily } from './families.js'

export const PREFIX = 'robutler_'

/** Seconds. HTTP and agent requests: a health check takes a millisecond, a long agent stream minutes. */
const REQUEST_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300]
const LLM_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300]
const TTFT_BUCKETS = [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30]
const TOOL_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]

export type HttpLabel = 'method' | 'route' | 'status' | 'agent'

export interface Metrics {
  httpRequests: CounterFamily<HttpLabel>
  httpDuration: HistogramFamily<HttpLabel>
  agentRequests: CounterFamily<'agent' | 'status'>
  agentDuration: HistogramFamily<'agent'>
  agentErrors: CounterFamily<'agent' | 'type'>
  llmCalls: CounterFamily<'provider' | 'model' | 'stream' | 'status'>
  llmDuration: HistogramFamily<'provider' | 'model' | 'stream'>
  llmTtft: HistogramFamily<'provider' | 'model'>
  llmTokens: CounterFamily<'provider' | 'model' | 'type'>
  llmCost: CounterFamily<'agent' | 'model'>
  toolCalls: CounterFamily<'skill' | 'tool' | 'status'>
  toolDuration: HistogramFamily<'skill' | 'tool' | 'status'>
  rateLimitRejections: CounterFamily<'limit'>
}

/** Where figures read at scrape time come from (the in-flight gauge is filled by the recorder). */
export interface Sources {
  pool: KernelApi['pool']
  agents: KernelApi['agents']
  version: string
  writeInProgress: (gauge: Gauge<'method' | 'route'>) => void
  writeAborted: (counter: Counter<'method' | 'route'>) => void
}

/** A counter that mirrors a running total kept elsewhere (it resets when the source does, as counters may). */
function mirror(counter: Counter, value: number): void {
  counter.reset()
  counter.inc(value)
}

/** Registers every metric on `registry`; the scrape-time ones read `sources` in their collect(). */
export function createMetrics(registry: Registry, sources: Sources): Metrics {
  const registers = [registry]
  const { pool, agents } = sources

  new Gauge({
    name: `${PREFIX}server_info`,
    help: 'Always 1; the version label is the kernel version.',
    labelNames: ['version'],
    registers,
    aggregator: 'max',
  }).set({ version: sources.version }, 1)

  new Gauge({
    name: `${PREFIX}worker_pool_threads`,
    help: 'Worker threads running in the skill worker pool (summed across processes).',
    registers,
    collect() {
      this.set(pool.stats().threads)
    },
  })
  new Gauge({
    name: `${PREFIX}worker_pool_utilization`,
    help: 'Run time of completed worker pool tasks over the pool thread capacity since the pool started, 0 to 1 (piscina utilization; averaged across processes).',
    registers,
    aggregator: 'average',
    collect() {
      this.set(pool.stats().utilization)
    },
  })
  new Gauge({
    name: `${PREFIX}worker_pool_queue_depth`,
    help: 'Tasks waiting for a worker thread (summed across processes).',
    registers,
    collect() {
      this.set(pool.stats().queueSize)
    },
  })
  new Counter({
    name: `${PREFIX}worker_pool_tasks_completed_total`,
    help: 'Worker pool tasks that completed.',
    registers,
    collect() {
      mirror(this, pool.stats().completed)
    },
  })
  new Counter({
    name: `${PREFIX}worker_pool_tasks_failed_total`,
    help: 'Worker pool tasks that failed or were refused because the queue was full (aborted ones excluded).',
    registers,
    collect() {
      mirror(this, pool.stats().failed)
    },
  })

  new Counter({
    name: `${PREFIX}worker_pool_threads_recycled_total`,
    help: 'Worker threads ended because they held more memory outside the heap than workerResourceLimits.maxExternalMb.',
    registers,
    collect() {
      mirror(this, pool.stats().recycled ?? 0)
    },
  })

  new Gauge({
    name: `${PREFIX}dynamic_agents_cached`,
    help: 'Dynamically loaded agents in the agent cache.',
    registers,
    collect() {
      this.set(agents.stats().cached)
    },
  })
  new Counter({
    name: `${PREFIX}dynamic_agent_cache_hits_total`,
    help: 'Dynamic agent lookups answered from the agent cache.',
    registers,
    collect() {
      mirror(this, agents.stats().hits)
    },
  })
  new Counter({
    name: `${PREFIX}dynamic_agent_cache_misses_total`,
    help: 'Dynamic agent lookups that had to ask the loaders.',
    registers,
    collect() {
      mirror(this, agents.stats().misses)
    },
  })
  new Counter({
    name: `${PREFIX}dynamic_agent_stale_served_total`,
    help: 'Dynamic agent reloads that failed and were answered by the agent as last loaded (server.agentMaxStale).',
    registers,
    collect() {
      mirror(this, agents.stats().staleServed ?? 0)
    },
  })
  new Counter({
    name: `${PREFIX}dynamic_agent_load_errors_total`,
    help: 'Dynamic agent loads that failed (a loader threw or timed out).',
    registers,
    collect() {
      mirror(this, agents.stats().loadErrors)
    },
  })

  new Gauge({
    name: `${PREFIX}http_requests_in_progress`,
    help: 'HTTP requests being served now (streams until their last byte), by method and route template.',
    labelNames: ['method', 'route'],
    registers,
    collect() {
      sources.writeInProgress(this)
    },
  })
  new Counter({
    name: `${PREFIX}http_requests_aborted_total`,
    help: 'HTTP responses cut off before their last byte (the client left, or a drain ran out of time); not in http_requests_total.',
    labelNames: ['method', 'route'],
    registers,
    collect() {
      sources.writeAborted(this)
    },
  })

  const http: HttpLabel[] = ['method', 'route', 'status', 'agent']
  return {
    httpRequests: new CounterFamily(`${PREFIX}http_requests_total`, 'HTTP requests answered, by method, route template, status and agent.', http, registry),
    httpDuration: new HistogramFamily(
      `${PREFIX}http_request_duration_seconds`,
      'HTTP request duration in seconds, to the last byte (streams included).',
      http,
      REQUEST_BUCKETS,
      registry,
    ),
    agentRequests: new CounterFamily(
      `${PREFIX}agent_requests_total`,
      'Requests on agent routes (info, chat, skill routes, agent health), by agent and status.',
      ['agent', 'status'],
      registry,
    ),
    agentDuration: new HistogramFamily(
      `${PREFIX}agent_request_duration_seconds`,
      'Agent route request duration in seconds, to the last byte.',
      ['agent'],
      REQUEST_BUCKETS,
      registry,
    ),
    agentErrors: new CounterFamily(
      `${PREFIX}agent_errors_total`,
      'Agent route requests answered with an error status, by agent and error type.',
      ['agent', 'type'],
      registry,
    ),
    llmCalls: new CounterFamily(
      `${PREFIX}llm_calls_total`,
      'Model calls (each retry and fallback attempt is one), by provider, model, stream and status (ok or the failure kind).',
      ['provider', 'model', 'stream', 'status'],
      registry,
    ),
    llmDuration: new HistogramFamily(
      `${PREFIX}llm_call_duration_seconds`,
      'Model call duration in seconds (a streamed call until its last chunk).',
      ['provider', 'model', 'stream'],
      LLM_BUCKETS,
      registry,
    ),
    llmTtft: new HistogramFamily(
      `${PREFIX}llm_time_to_first_token_seconds`,
      'Time from a streamed model call to its first chunk, in seconds.',
      ['provider', 'model'],
      TTFT_BUCKETS,
      registry,
    ),
    llmTokens: new CounterFamily(
      `${PREFIX}llm_tokens_total`,
      'Tokens the providers reported, by provider, model and type (prompt or completion); streamed calls included.',
      ['provider', 'model', 'type'],
      registry,
    ),
    llmCost: new CounterFamily(
      `${PREFIX}llm_cost_total`,
      "Cost of model calls as a metering plugin (plugin-usage) priced them from its price table, by agent and model (the model string, e.g. openai/gpt-4o); calls without a price are not counted.",
      ['agent', 'model'],
      registry,
    ),
    toolCalls: new CounterFamily(
      `${PREFIX}tool_calls_total`,
      'Tool calls the agents ran, by skill, tool and status (ok, error, invalid, refused).',
      ['skill', 'tool', 'status'],
      registry,
    ),
    toolDuration: new HistogramFamily(
      `${PREFIX}tool_call_duration_seconds`,
      'Tool call duration in seconds, argument checks and hooks included.',
      ['skill', 'tool', 'status'],
      TOOL_BUCKETS,
      registry,
    ),
    rateLimitRejections: new CounterFamily(
      `${PREFIX}rate_limit_rejections_total`,
      'Requests a limits plugin refused, by limit (rate, parallel, or budget).',
      ['limit'],
      registry,
    ),
  }
}
