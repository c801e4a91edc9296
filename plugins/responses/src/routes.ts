// The stored-response routes: GET (or resume a background stream), DELETE, input_items, cancel. Each answers 404
// for an id the caller may not see, as for one that does not exist.
import { SseStream, type ServerRouteHandler, type SurfaceCall } from '@robutler/kernel'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { mayRead } from './access.js'
import type { BackgroundRuns } from './background.js'
import { ERR_NOT_BACKGROUND, ERR_RESPONSE_NOT_FOUND, invalid } from './errors.js'
import { isTerminal } from './render.js'
import { pageOf, type PageQuery, type ResponseStore, type StoredResponse } from './store.js'

type IdRequest = FastifyRequest<{ Params: { id: string }; Querystring: Record<string, string | undefined> }>

const FOLLOW_WAIT_MS = 1000

/** `limit`, `after`, `order` of a list request, checked. */
export function pageQuery(query: Record<string, string | undefined>): PageQuery {
  const limit = query.limit === undefined ? 20 : Number(query.limit)
  if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw invalid("Invalid 'limit': expected an integer between 1 and 100.", 'limit')
  const order = query.order ?? 'desc'
  if (order !== 'asc' && order !== 'desc') throw invalid("Invalid 'order': expected 'asc' or 'desc'.", 'order')
  return { limit, order, after: query.after }
}

/** An OpenAI list object of a page. */
export function listOf<T extends { id?: unknown }>(page: { data: T[]; has_more: boolean }): Record<string, unknown> {
  return { object: 'list', data: page.data, first_id: page.data[0]?.id ?? null, last_id: page.data.at(-1)?.id ?? null, has_more: page.has_more }
}

async function readable(store: ResponseStore, call: SurfaceCall, id: string): Promise<StoredResponse> {
  const record = await store.getResponse(id)
  if (record === null || !(await mayRead(call, record.owner, record.agent))) throw ERR_RESPONSE_NOT_FOUND(id.slice(0, 100))
  return record
}

function startingAfter(value: string | undefined): number {
  if (value === undefined) return -1
  if (!/^\d{1,9}$/.test(value)) throw invalid("Invalid 'starting_after': expected a non-negative integer sequence number.", 'starting_after')
  return Number(value)
}

/** Replays a background run's stored events after `after`, then follows it until its terminal event. */
async function resume(store: ResponseStore, record: StoredResponse, after: number, reply: FastifyReply): Promise<FastifyReply> {
  const controller = new AbortController()
  reply.raw.on('close', () => controller.abort())
  const sse = new SseStream(reply, controller)
  let last = after
  for (;;) {
    const events = await store.readEvents(record.id, last)
    let ended = false
    for (const event of events) {
      if (event.sequence !== last + 1) break
      last = event.sequence
      const type = (JSON.parse(event.json) as { type: string }).type
      const wait = sse.write(`event: ${type}\ndata: ${event.json}\n\n`)
      if (wait) await wait
      if (isTerminal(type)) ended = true
    }
    if (ended || controller.signal.aborted) break
    if (events.length === 0) {
      // Nothing new: a run that has ended (its terminal event already sent) or died leaves nothing to wait for.
      const now = await store.getResponse(record.id)
      if (now === null) break
      const status = now.response.status
      if (status !== 'queued' && status !== 'in_progress' && (await store.readEvents(record.id, last)).length === 0) break
      await store.waitEvents(record.id, FOLLOW_WAIT_MS, controller.signal)
    }
  }
  sse.end()
  return reply
}

export function responseRoutes(store: ResponseStore, runs: BackgroundRuns) {
  const retrieve: ServerRouteHandler = async (call, request, reply) => {
    const { params, query } = request as IdRequest
    const stream = query.stream === 'true'
    const after = startingAfter(query.starting_after)
    const record = await readable(store, call, params.id)
    if (!stream) return record.response
    if (record.response.background !== true) throw ERR_NOT_BACKGROUND(params.id, 'only background responses can be streamed again')
    return resume(store, record, after, reply)
  }

  const remove: ServerRouteHandler = async (call, request) => {
    const { params } = request as IdRequest
    const record = await readable(store, call, params.id)
    await store.deleteResponse(record.id)
    return { id: record.id, object: 'response', deleted: true }
  }

  const inputItems: ServerRouteHandler = async (call, request) => {
    const { params, query } = request as IdRequest
    const page = pageQuery(query)
    const record = await readable(store, call, params.id)
    return listOf(pageOf(record.input, page))
  }

  const cancel: ServerRouteHandler = async (call, request) => {
    const { params } = request as IdRequest
    const record = await readable(store, call, params.id)
    if (record.response.background !== true) throw ERR_NOT_BACKGROUND(params.id, 'only background responses can be cancelled')
    const status = record.response.status
    if (status !== 'queued' && status !== 'in_progress') return record.response
    if (!(await runs.cancel(record.id))) {
      // Another process runs it: wait (boundedly) for it to store the cancelled state.
      const until = Date.now() + 5000
      while (Date.now() < until) {
        const now = await store.getResponse(record.id)
        if (now === null || (now.response.status !== 'queued' && now.response.status !== 'in_progress')) return now?.response ?? record.response
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
    }
    return (await store.getResponse(record.id))?.response ?? record.response
  }

  return { retrieve, remove, inputItems, cancel }
}
