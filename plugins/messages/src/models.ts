// `GET {urlPrefix}/v1/models` and `/v1/models/{agent}`: the agents the caller may use, as Anthropic's model
// objects when the request carries `anthropic-version` (every Anthropic SDK sends it), as OpenAI's otherwise
// (tools that append /v1/models to a base URL).
import type { AgentSummary, SurfaceCall } from '@robutler/kernel'
import type { FastifyRequest } from 'fastify'

const DEFAULT_LIMIT = 20
const MAX_LIMIT = 1000

interface ListQuery {
  limit?: string
  after_id?: string
  before_id?: string
}

export class Models {
  /** When this server started serving: an agent has no creation date of its own. */
  readonly #createdAt: string
  readonly #created: number

  constructor(startedAt: Date) {
    this.#createdAt = startedAt.toISOString()
    this.#created = Math.floor(startedAt.getTime() / 1000)
  }

  #model(agent: AgentSummary, anthropic: boolean): Record<string, unknown> {
    if (anthropic) return { type: 'model', id: agent.name, display_name: agent.name, created_at: this.#createdAt }
    return { id: agent.name, object: 'model', created: this.#created, owned_by: agent.owner ?? 'robutler' }
  }

  /** The list, a page at a time as Anthropic pages it (`limit`, `after_id`, `before_id`). */
  list(call: SurfaceCall, request: FastifyRequest): Record<string, unknown> {
    const agents = call.agents()
    if (!isAnthropic(request)) return { object: 'list', data: agents.map((agent) => this.#model(agent, false)) }
    const query = request.query as ListQuery
    const limit = Math.min(MAX_LIMIT, Math.max(1, Number.parseInt(query.limit ?? '', 10) || DEFAULT_LIMIT))
    let start = 0
    let end = agents.length
    if (query.after_id) start = agents.findIndex((agent) => agent.name === query.after_id) + 1
    else if (query.before_id) end = Math.max(0, agents.findIndex((agent) => agent.name === query.before_id))
    const page = query.before_id && !query.after_id ? agents.slice(Math.max(0, end - limit), end) : agents.slice(start, start + limit)
    const hasMore = query.before_id && !query.after_id ? end - limit > 0 : start + limit < agents.length
    return {
      data: page.map((agent) => this.#model(agent, true)),
      has_more: hasMore,
      first_id: page[0]?.name ?? null,
      last_id: page.at(-1)?.name ?? null,
    }
  }

  /** One agent the caller may use (404 not_found_error otherwise, as for its other routes). */
  async retrieve(call: SurfaceCall, request: FastifyRequest<{ Params: { id: string } }>): Promise<Record<string, unknown>> {
    const session = await call.open(request.params.id)
    return this.#model(session.agent, isAnthropic(request))
  }
}

function isAnthropic(request: FastifyRequest): boolean {
  return typeof request.headers['anthropic-version'] === 'string'
}
