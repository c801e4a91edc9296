// POST /responses: one run of an agent as a Responses API response, whole, streamed, or in the background (its
// events logged for pollers and resumed streams). History comes from a previous response or a conversation;
// with `store` the response, its input and what the run made are kept for the next turn.
import type { AgentEventSink, AgentInput, AgentSession, ChatMessage, RobutlerError } from '@robutler/kernel'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { ownerOf } from './access.js'
import { EventLog, type BackgroundRuns } from './background.js'
import { ERR_CANCELLED, ERR_CONVERSATION_NOT_FOUND, ERR_RESPONSE_NOT_FOUND } from './errors.js'
import { newId } from './ids.js'
import { messagesOf, type Item } from './items.js'
import { ResponseRender, type Emit } from './render.js'
import { parseCreate, type CreateRequest } from './request.js'
import type { ResponseStore, StoredResponse } from './store.js'

export interface CreateDeps {
  store: ResponseStore
  runs: BackgroundRuns
  maxItems: number
}

function notFound(factory: typeof ERR_RESPONSE_NOT_FOUND, id: string, param: string): RobutlerError {
  const error = factory(id.slice(0, 100))
  error.param = param
  return error
}

/** The items before this request's input: a previous response's whole turn, or a conversation's items. */
async function historyOf(deps: CreateDeps, session: AgentSession, req: CreateRequest): Promise<Item[]> {
  const owner = ownerOf(session.context.identity)
  if (req.previousResponseId !== null) {
    const previous = await deps.store.getResponse(req.previousResponseId)
    // Another user's response is as unknown as a deleted one; an admin of the agent may read it, not continue it.
    if (previous === null || previous.owner !== owner) throw notFound(ERR_RESPONSE_NOT_FOUND, req.previousResponseId, 'previous_response_id')
    return [...previous.history, ...previous.input, ...previous.items]
  }
  if (req.conversation !== null) {
    const conversation = await deps.store.getConversation(req.conversation)
    if (conversation === null || conversation.owner !== owner) throw notFound(ERR_CONVERSATION_NOT_FOUND, req.conversation, 'conversation')
    return deps.store.allItems(req.conversation)
  }
  return []
}

function responseObject(session: AgentSession, req: CreateRequest, id: string): StoredResponse['response'] {
  const response: StoredResponse['response'] = {
    id,
    object: 'response',
    created_at: Math.floor(Date.now() / 1000),
    status: 'in_progress',
    background: req.background,
    completed_at: null,
    conversation: req.conversation === null ? null : { id: req.conversation },
    error: null,
    incomplete_details: null,
    instructions: req.instructions,
    max_output_tokens: req.echo.max_output_tokens,
    metadata: req.metadata ?? {},
    model: session.agent.name,
    output: [],
    parallel_tool_calls: req.echo.parallel_tool_calls,
    previous_response_id: req.previousResponseId,
    reasoning: req.echo.reasoning,
    store: req.store,
    temperature: req.echo.temperature,
    text: req.echo.text,
    tool_choice: req.echo.tool_choice,
    tools: req.toolsEcho,
    top_p: req.echo.top_p,
    truncation: req.echo.truncation,
    usage: null,
  }
  if (req.echo.user !== undefined) response.user = req.echo.user
  if (req.echo.safety_identifier !== undefined) response.safety_identifier = req.echo.safety_identifier
  return response
}

function loopInput(req: CreateRequest, history: Item[], stream: boolean): AgentInput {
  const messages: ChatMessage[] = req.instructions === null ? [] : [{ role: 'system', content: req.instructions }]
  if (history.length > 0) messagesOf(history, messages)
  messagesOf(req.input, messages)
  const input: AgentInput = { messages, params: req.params, stream }
  if (req.tools !== undefined) input.tools = req.tools
  if (req.store) input.keepInternalResults = true
  return input
}

/** Keeps a finished run: the response (`json`: its JSON when made already), and its turn in its conversation. */
async function keep(deps: CreateDeps, record: StoredResponse, req: CreateRequest, json?: string): Promise<void> {
  await deps.store.putResponse(record, json)
  if (req.conversation !== null) await deps.store.addItems(req.conversation, [...req.input, ...record.items])
}

/** The handler of `POST /responses` and `POST /{agent}/responses`. */
export async function create(deps: CreateDeps, session: AgentSession, request: FastifyRequest, reply: FastifyReply): Promise<unknown> {
  const req = parseCreate(request.body, deps.maxItems)
  const history = await historyOf(deps, session, req)
  const id = newId('resp')
  const response = responseObject(session, req, id)
  const record: StoredResponse = { id, owner: ownerOf(session.context.identity), agent: session.agent.name, response, history, input: req.input, items: [] }
  if (req.background) return background(deps, session, req, record, reply)
  const input = loopInput(req, history, req.stream)

  if (!req.stream) {
    const render = new ResponseRender(response, null, req.namespaces)
    await session.run(input, (event) => render.event(event))
    record.items = render.items
    if (!req.store) return response
    // Serialized once: the reply's body and the stored record's response are the same text.
    const json = JSON.stringify(response)
    await keep(deps, record, req, json)
    reply.header('content-type', 'application/json; charset=utf-8')
    return json
  }

  const sse = session.sse()
  const render = new ResponseRender(response, (event) => sse.send(event, event.type as string), req.namespaces)
  let started = false
  const sink: AgentEventSink = (event) => {
    // The first frames go out when the model starts answering: until then a failure is a plain HTTP error.
    if (!started && event.type !== 'error') {
      started = true
      const wait = render.start()
      if (wait) return wait.then(() => render.event(event))
    }
    return render.event(event)
  }
  const result = await session.run(input, sink)
  sse.end()
  record.items = render.items
  if (req.store && result !== null) await keep(deps, record, req)
  return reply
}

/**
 * A background run: stored at once as queued, answered at once (or streamed while the client stays), run on
 * without the request; every event logged for `GET /responses/{id}?stream=true`; cancelled by `cancel`.
 */
async function background(deps: CreateDeps, session: AgentSession, req: CreateRequest, record: StoredResponse, reply: FastifyReply): Promise<unknown> {
  const { store, runs } = deps
  const response = record.response
  response.status = 'queued'
  await store.putResponse(record)
  await store.renewLeases([record.id], Date.now() + runs.leaseMs)
  const log = new EventLog(store, record.id)
  const sse = req.stream ? session.sse() : null
  const emit: Emit = (event) => {
    const json = JSON.stringify(event)
    log.append(event.sequence_number as number, json)
    if (sse !== null) return sse.write(`event: ${event.type as string}\ndata: ${json}\n\n`)
    return undefined
  }
  const render = new ResponseRender(response, emit, req.namespaces)
  const abort = session.detach()
  let cancelled = false
  const cancel = (): void => {
    cancelled = true
    abort(ERR_CANCELLED(record.id))
  }
  // response.created first (the SDKs' accumulators start from it), with the queued state the client is answered.
  const queued = JSON.stringify(response)
  render.tell('response.created', { response })
  render.tell('response.queued', { response })
  response.status = 'in_progress'
  render.tell('response.in_progress', { response })
  // Pollers see it running (and its partial output when it ends; the events carry the rest).
  await store.putResponse(record)

  const run = (async () => {
    const result = await session.run(loopInput(req, record.history, true), (event) => {
      // A cancel's abort reaches the sink as an error: the response ends cancelled instead.
      if (event.type === 'error' && cancelled) return render.cancel()
      return render.event(event)
    })
    if (result === null && cancelled && response.status !== 'cancelled') render.cancel()
  })()
  const done = run
    .catch((error: unknown) => session.context.log.error({ err: error }, 'responses: background run failed'))
    .then(async () => {
      record.items = render.items
      await log.flush()
      await keep(deps, record, req)
    })
    .catch((error: unknown) => session.context.log.error({ err: error }, 'responses: background run could not be stored'))
    .finally(() => sse?.end())
  runs.add(record.id, cancel, done)
  if (sse === null) {
    reply.header('content-type', 'application/json; charset=utf-8')
    return queued
  }
  await done
  return reply
}
