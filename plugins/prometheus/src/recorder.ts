// Kernel events → metrics. Each listener is a function made once; per event it looks its series up by the label
// values (SeriesMap) and adds to the plain-number series it finds (made the first time a label tuple is seen).
import type { KernelEventMap, KernelEvents } from '@robutler/kernel'
import { BoundedLabel, errorType, llmStatus, methodLabel, NO_AGENT, OTHER, RouteLabels, UNKNOWN } from './labels.js'
import type { Metrics } from './metrics.js'
import { SeriesMap } from './series-map.js'

interface Inc {
  inc(value?: number): void
}
interface Observe {
  observe(value: number): void
}

interface HttpSeries {
  requests: Inc
  duration: Observe
  /** Set on agent routes: the agent series this request also counts in. */
  agent: AgentSeries | null
}

interface AgentSeries {
  requests: Inc
  duration: Observe
  /** Set for error statuses. */
  errors: Inc | null
}

interface LlmSeries {
  calls: Inc
  duration: Observe
}

interface ModelSeries {
  ttft: Observe
  prompt: Inc
  completion: Inc
}

interface ToolSeries {
  calls: Inc
  duration: Observe
}

/** Agents resolved past the cap, by request id, until their request ends (bounded in case an end never comes). */
const MAX_PENDING_OVERFLOW = 10_000

export class Recorder {
  readonly #m: Metrics
  readonly #routes: RouteLabels
  readonly #agents: BoundedLabel
  readonly #models: BoundedLabel
  readonly #tools: BoundedLabel
  readonly #overflow = new Set<string>()
  readonly #http = new SeriesMap<HttpSeries>()
  readonly #agentSeries = new SeriesMap<AgentSeries>()
  readonly #agentDuration = new Map<string, Observe>()
  readonly #llm = new SeriesMap<LlmSeries>()
  readonly #modelSeries = new SeriesMap<ModelSeries>()
  readonly #toolSeries = new SeriesMap<ToolSeries>()
  readonly #costSeries = new SeriesMap<Inc>()
  readonly #rateRejections: Inc
  readonly #parallelRejections: Inc
  readonly #budgetRejections: Inc

  constructor(metrics: Metrics, options: { urlPrefix: string; maxAgentLabels: number }) {
    this.#m = metrics
    this.#routes = new RouteLabels(options.urlPrefix)
    this.#agents = new BoundedLabel(options.maxAgentLabels)
    this.#models = new BoundedLabel(options.maxAgentLabels)
    this.#tools = new BoundedLabel(options.maxAgentLabels)
    // Both limits exist from the start, so `rate()` over them is 0 rather than absent.
    this.#rateRejections = metrics.rateLimitRejections.add({ limit: 'rate' })
    this.#parallelRejections = metrics.rateLimitRejections.add({ limit: 'parallel' })
    this.#budgetRejections = metrics.rateLimitRejections.add({ limit: 'budget' })
  }

  /** The route label of a template as the kernel reports it (shared with the in-flight gauge). */
  routeLabel(template: string): string {
    return this.#routes.of(template)
  }

  listen(events: KernelEvents): void {
    events.on('agent:resolved', this.onAgentResolved)
    events.on('request:end', this.onRequestEnd)
    events.on('llm:end', this.onLlmEnd)
    events.on('tool:end', this.onToolEnd)
    events.on('limit:rejected', this.onLimitRejected)
    events.on('usage:recorded', this.onUsageRecorded)
  }

  unlisten(events: KernelEvents): void {
    events.off('agent:resolved', this.onAgentResolved)
    events.off('request:end', this.onRequestEnd)
    events.off('llm:end', this.onLlmEnd)
    events.off('tool:end', this.onToolEnd)
    events.off('limit:rejected', this.onLimitRejected)
    events.off('usage:recorded', this.onUsageRecorded)
  }

  readonly onAgentResolved = (event: KernelEventMap['agent:resolved']): void => {
    if (this.#agents.has(event.agent)) return
    if (this.#agents.admit(event.agent) !== OTHER) return
    if (this.#overflow.size >= MAX_PENDING_OVERFLOW) this.#overflow.clear()
    this.#overflow.add(event.requestId)
  }

  readonly onRequestEnd = (event: KernelEventMap['request:end']): void => {
    const route = this.#routes.of(event.route)
    const method = methodLabel(event.method)
    const agent = this.#agentLabel(event)
    const series = this.#http.get(route, method, event.status, agent) ?? this.#newHttpSeries(method, route, event.status, agent, event.agent !== null)
    const seconds = event.durationMs / 1000
    series.requests.inc()
    series.duration.observe(seconds)
    const agentSeries = series.agent
    if (agentSeries !== null) {
      agentSeries.requests.inc()
      agentSeries.duration.observe(seconds)
      agentSeries.errors?.inc()
    }
  }

  readonly onLlmEnd = (event: KernelEventMap['llm:end']): void => {
    const model = this.#models.admit(event.model)
    const status = llmStatus(event.error)
    const series = this.#llm.get(event.provider, model, event.stream, status) ?? this.#newLlmSeries(event.provider, model, event.stream, status)
    series.calls.inc()
    series.duration.observe(event.durationMs / 1000)
    const usage = event.usage
    if (event.ttftMs === null && usage === null) return
    const perModel = this.#modelSeries.get(event.provider, model) ?? this.#newModelSeries(event.provider, model)
    if (event.ttftMs !== null) perModel.ttft.observe(event.ttftMs / 1000)
    if (usage !== null) {
      if (usage.prompt_tokens > 0) perModel.prompt.inc(usage.prompt_tokens)
      if (usage.completion_tokens > 0) perModel.completion.inc(usage.completion_tokens)
    }
  }

  readonly onToolEnd = (event: KernelEventMap['tool:end']): void => {
    // No skill means the model named a tool the agent does not have: its name is the model's invention.
    const skill = event.skill ?? ''
    const tool = event.skill === null ? UNKNOWN : this.#tools.admit(event.tool)
    const series = this.#toolSeries.get(skill, tool, event.status) ?? this.#newToolSeries(skill, tool, event.status)
    series.calls.inc()
    series.duration.observe(event.durationMs / 1000)
  }

  readonly onLimitRejected = (event: KernelEventMap['limit:rejected']): void => {
    if (event.limit === 'parallel') this.#parallelRejections.inc()
    else if (event.limit === 'budget') this.#budgetRejections.inc()
    else this.#rateRejections.inc()
  }

  readonly onUsageRecorded = (event: KernelEventMap['usage:recorded']): void => {
    if (event.cost === null || event.cost <= 0) return
    const agent = this.#agents.admit(event.agent)
    const model = this.#models.admit(event.model)
    const series = this.#costSeries.get(agent, model) ?? this.#costSeries.set(this.#m.llmCost.add({ agent, model }), agent, model)
    series.inc(event.cost)
  }

  /**
   * An agent's name is a label only once it is known to exist: it resolved (now or earlier), or a request on it
   * succeeded (`/{agent}/health` resolves without an event). Names that never resolved are `__unknown__`.
   */
  #agentLabel(event: KernelEventMap['request:end']): string {
    const name = event.agent
    if (name === null) return NO_AGENT
    if (this.#agents.has(name)) return name
    if (this.#overflow.size > 0 && this.#overflow.delete(event.requestId)) return OTHER
    if (event.status < 400) return this.#agents.admit(name)
    return UNKNOWN
  }

  #newHttpSeries(method: string, route: string, status: number, agent: string, onAgentRoute: boolean): HttpSeries {
    const labels = { method, route, status: String(status), agent }
    const series: HttpSeries = {
      requests: this.#m.httpRequests.add(labels),
      duration: this.#m.httpDuration.add(labels),
      agent: onAgentRoute ? this.#agentSeriesFor(agent, status) : null,
    }
    return this.#http.set(series, route, method, status, agent)
  }

  #agentSeriesFor(agent: string, status: number): AgentSeries {
    let series = this.#agentSeries.get(agent, status)
    if (series === undefined) {
      let duration = this.#agentDuration.get(agent)
      if (duration === undefined) {
        duration = this.#m.agentDuration.add({ agent })
        this.#agentDuration.set(agent, duration)
      }
      series = {
        requests: this.#m.agentRequests.add({ agent, status: String(status) }),
        duration,
        errors: status >= 400 ? this.#m.agentErrors.add({ agent, type: errorType(status) }) : null,
      }
      this.#agentSeries.set(series, agent, status)
    }
    return series
  }

  #newLlmSeries(provider: string, model: string, stream: boolean, status: string): LlmSeries {
    const series: LlmSeries = {
      calls: this.#m.llmCalls.add({ provider, model, stream: String(stream), status }),
      duration: this.#m.llmDuration.add({ provider, model, stream: String(stream) }),
    }
    return this.#llm.set(series, provider, model, stream, status)
  }

  #newModelSeries(provider: string, model: string): ModelSeries {
    const series: ModelSeries = {
      ttft: this.#m.llmTtft.add({ provider, model }),
      prompt: this.#m.llmTokens.add({ provider, model, type: 'prompt' }),
      completion: this.#m.llmTokens.add({ provider, model, type: 'completion' }),
    }
    return this.#modelSeries.set(series, provider, model)
  }

  #newToolSeries(skill: string, tool: string, status: string): ToolSeries {
    const series: ToolSeries = {
      calls: this.#m.toolCalls.add({ skill, tool, status }),
      duration: this.#m.toolDuration.add({ skill, tool, status }),
    }
    return this.#toolSeries.set(series, skill, tool, status)
  }
}
