// The Conversations API: POST /conversations, GET/POST/DELETE /conversations/{id}, GET/POST
// /conversations/{id}/items, GET/DELETE /conversations/{id}/items/{item_id}. A conversation belongs to the
// identity that made it; `conversation` on a create appends the turn (input and what the run made) to it.
import type { ServerRouteHandler, SurfaceCall } from '@robutler/kernel'
import type { FastifyRequest } from 'fastify'
import { mayRead, ownerOf } from './access.js'
import { ERR_CONVERSATION_NOT_FOUND, ERR_ITEM_NOT_FOUND, invalid } from './errors.js'
import { newId } from './ids.js'
import { inputItems } from './items.js'
import { listOf, pageQuery } from './routes.js'
import type { ResponseStore, StoredConversation } from './store.js'

type ConvRequest = FastifyRequest<{ Params: { id: string; item?: string }; Querystring: Record<string, string | undefined> }>

/** The most items one POST may add, as OpenAI limits it. */
const MAX_ADDED = 20

function bodyOf(request: FastifyRequest): Record<string, unknown> {
  const body = request.body
  if (body === undefined || body === null) return {}
  if (typeof body !== 'object' || Array.isArray(body)) throw invalid('The request body must be a JSON object.', null)
  return body as Record<string, unknown>
}

function metadataOf(value: unknown): Record<string, string> {
  if (value === undefined || value === null) return {}
  if (typeof value !== 'object' || Array.isArray(value)) throw invalid("Invalid type for 'metadata': expected an object.", 'metadata')
  const entries = Object.entries(value as Record<string, unknown>)
  if (entries.length > 16) throw invalid(`Invalid 'metadata': at most 16 keys, got ${entries.length}.`, 'metadata')
  for (const [key, v] of entries) {
    if (typeof v !== 'string' || v.length > 512 || key.length > 64) throw invalid(`Invalid 'metadata.${key.slice(0, 64)}': expected a string of at most 512 characters.`, 'metadata')
  }
  return value as Record<string, string>
}

export function conversationRoutes(store: ResponseStore, maxItems: number) {
  async function readable(call: SurfaceCall, id: string): Promise<StoredConversation> {
    const record = await store.getConversation(id)
    if (record === null || !(await mayRead(call, record.owner, null))) throw ERR_CONVERSATION_NOT_FOUND(id.slice(0, 100))
    return record
  }

  const createOne: ServerRouteHandler = async (call, request) => {
    const body = bodyOf(request)
    for (const key of Object.keys(body)) if (key !== 'items' && key !== 'metadata') throw invalid(`Unknown parameter: '${key.slice(0, 64)}'.`, key.slice(0, 64))
    const items = body.items === undefined || body.items === null ? [] : inputItems(body.items, 'items', Math.min(maxItems, MAX_ADDED))
    const id = newId('conv')
    const conversation = { id, object: 'conversation' as const, created_at: Math.floor(Date.now() / 1000), metadata: metadataOf(body.metadata) }
    await store.createConversation({ id, owner: ownerOf(call.identity), conversation }, items)
    return conversation
  }

  const retrieve: ServerRouteHandler = async (call, request) => (await readable(call, (request as ConvRequest).params.id)).conversation

  const update: ServerRouteHandler = async (call, request) => {
    const record = await readable(call, (request as ConvRequest).params.id)
    const body = bodyOf(request)
    if (body.metadata === undefined) throw invalid("Missing required parameter: 'metadata'.", 'metadata')
    record.conversation = { ...record.conversation, metadata: metadataOf(body.metadata) }
    await store.updateConversation(record)
    return record.conversation
  }

  const remove: ServerRouteHandler = async (call, request) => {
    const record = await readable(call, (request as ConvRequest).params.id)
    await store.deleteConversation(record.id)
    return { id: record.id, object: 'conversation.deleted', deleted: true }
  }

  const listItems: ServerRouteHandler = async (call, request) => {
    const { params, query } = request as ConvRequest
    const page = pageQuery(query)
    const record = await readable(call, params.id)
    return listOf(await store.listItems(record.id, page))
  }

  const addItems: ServerRouteHandler = async (call, request) => {
    const record = await readable(call, (request as ConvRequest).params.id)
    const body = bodyOf(request)
    if (body.items === undefined) throw invalid("Missing required parameter: 'items'.", 'items')
    const items = inputItems(body.items, 'items', MAX_ADDED)
    await store.addItems(record.id, items)
    return listOf({ data: items, has_more: false })
  }

  const getItem: ServerRouteHandler = async (call, request) => {
    const { params } = request as ConvRequest
    const record = await readable(call, params.id)
    const item = await store.getItem(record.id, params.item!)
    if (item === null) throw ERR_ITEM_NOT_FOUND(params.item!.slice(0, 100), record.id)
    return item
  }

  const deleteItem: ServerRouteHandler = async (call, request) => {
    const { params } = request as ConvRequest
    const record = await readable(call, params.id)
    if (!(await store.deleteItem(record.id, params.item!))) throw ERR_ITEM_NOT_FOUND(params.item!.slice(0, 100), record.id)
    return record.conversation
  }

  return { createOne, retrieve, update, remove, listItems, addItems, getItem, deleteItem }
}
