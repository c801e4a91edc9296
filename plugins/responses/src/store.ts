// What the surface keeps: responses (the object, the request's input items, the items the run made, the history
// before them), a background run's stream events, and conversations with their items. Two backends implement it:
// memory (one process, LRU-bounded) and PostgreSQL (shared by every process and instance).
import type { EventEmitter } from 'node:events'
import type { Item } from './items.js'

export interface StoredResponse {
  id: string
  /** The user id that created it (null: anonymous). */
  owner: string | null
  agent: string
  /** The response object as clients get it. */
  response: Record<string, unknown> & { output: Item[]; status?: unknown }
  /** The items before this request's input (a previous response's history, input and items; a conversation's). */
  history: Item[]
  /** This request's input items. */
  input: Item[]
  /** Every item the run made, in order (output items and internal tool calls with their results). */
  items: Item[]
}

export interface StoredConversation {
  id: string
  owner: string | null
  /** The conversation object as clients get it. */
  conversation: { id: string; object: 'conversation'; created_at: number; metadata: Record<string, string> }
}

export interface Page<T> {
  data: T[]
  has_more: boolean
}

export interface PageQuery {
  after?: string | undefined
  limit: number
  order: 'asc' | 'desc'
}

/** One stored stream event: its sequence number and its JSON. */
export interface StoredEvent {
  sequence: number
  json: string
}

export interface ResponseStore {
  readonly kind: 'memory' | 'postgres'
  /** Keeps a response; `responseJson` is `record.response` serialized, when the caller has it (the reply's body). */
  putResponse(record: StoredResponse, responseJson?: string): Promise<void>
  getResponse(id: string): Promise<StoredResponse | null>
  /** False when there was none. */
  deleteResponse(id: string): Promise<boolean>
  /** Appends a background run's events (in order, sequence numbers given) and wakes whoever follows it. */
  appendEvents(id: string, events: StoredEvent[]): Promise<void>
  /** The stored events after `after`, in order. */
  readEvents(id: string, after: number): Promise<StoredEvent[]>
  /** Resolves when `id` may have new events, after `timeoutMs` at the latest, or when `signal` aborts. */
  waitEvents(id: string, timeoutMs: number, signal: AbortSignal): Promise<void>
  /** Asks whichever process runs `id` to cancel it (that process's `onCancel` handler hears it). */
  requestCancel(id: string): Promise<void>
  onCancel(handler: (id: string) => void): void
  /** Extends the leases of runs this process runs, to `until` (epoch ms). */
  renewLeases(ids: string[], until: number): Promise<void>
  /** Marks runs whose lease ran out (their process died) failed, with terminal events; answers their ids. */
  sweepLost(now: number, fail: (record: StoredResponse, nextSequence: number) => StoredEvent[]): Promise<string[]>
  /** Removes what is older than `before` (epoch ms). */
  expire(before: number): Promise<void>

  createConversation(record: StoredConversation, items: Item[]): Promise<void>
  getConversation(id: string): Promise<StoredConversation | null>
  updateConversation(record: StoredConversation): Promise<void>
  deleteConversation(id: string): Promise<boolean>
  addItems(conversation: string, items: Item[]): Promise<void>
  /** Every item of a conversation, oldest first (a create's history). */
  allItems(conversation: string): Promise<Item[]>
  listItems(conversation: string, query: PageQuery): Promise<Page<Item>>
  getItem(conversation: string, item: string): Promise<Item | null>
  deleteItem(conversation: string, item: string): Promise<boolean>
  close(): Promise<void>
}

/** A page of `items` (oldest first) as OpenAI pages lists: `after` an id, `limit`, `order`. */
export function pageOf<T extends { id?: unknown }>(items: T[], query: PageQuery): Page<T> {
  const ordered = query.order === 'desc' ? items.slice().reverse() : items
  let start = 0
  if (query.after !== undefined) {
    const at = ordered.findIndex((item) => item.id === query.after)
    start = at < 0 ? ordered.length : at + 1
  }
  const data = ordered.slice(start, start + query.limit)
  return { data, has_more: start + query.limit < ordered.length }
}

/** Resolves when `wake` emits `id`, after `timeoutMs`, or when `signal` aborts, whichever comes first. */
export function wakeOf(wake: EventEmitter, id: string, timeoutMs: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer)
      wake.off(id, done)
      signal.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, timeoutMs)
    wake.on(id, done)
    signal.addEventListener('abort', done)
  })
}

/** True when the items the run made are its output, the same items in the same order (no internal tool ran). */
function itemsAreOutput(record: StoredResponse): boolean {
  const { items } = record
  const output = record.response.output
  if (items.length !== output.length) return false
  for (let i = 0; i < items.length; i++) if (items[i] !== output[i]) return false
  return true
}

/**
 * A stored response as one JSON text, the response's own JSON reused when given, and `items` left out (null) when
 * they are the output: the common response is serialized once, for the reply and the store together.
 */
export function recordJson(record: StoredResponse, responseJson = JSON.stringify(record.response)): string {
  const items = itemsAreOutput(record) ? 'null' : JSON.stringify(record.items)
  const history = record.history.length === 0 ? '[]' : JSON.stringify(record.history)
  return `{"id":${JSON.stringify(record.id)},"owner":${JSON.stringify(record.owner)},"agent":${JSON.stringify(record.agent)},"response":${responseJson},"history":${history},"input":${JSON.stringify(record.input)},"items":${items}}`
}

/** The stored response of recordJson's text. */
export function parseRecord(json: string): StoredResponse {
  const record = JSON.parse(json) as Omit<StoredResponse, 'items'> & { items: StoredResponse['items'] | null }
  return { ...record, items: record.items ?? record.response.output }
}
