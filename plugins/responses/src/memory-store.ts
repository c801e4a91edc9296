// The in-memory store (no database configured): one process's responses, least recently used evicted first once
// `maxResponses` or `maxBytes` (the JSON size of what is kept) is passed. Conversations count toward the same
// bounds. Events of background runs live with their response. Nothing survives a restart. A response is kept as one
// JSON text, the reply's own (see recordJson): ten thousand object graphs held for minutes cost every request
// old-generation garbage collection, and the text's length is the bytes the bound counts.
import { EventEmitter } from 'node:events'
import type { Item } from './items.js'
import { parseRecord, recordJson, wakeOf } from './store.js'
import { pageOf, type Page, type PageQuery, type ResponseStore, type StoredConversation, type StoredEvent, type StoredResponse } from './store.js'

interface Entry {
  id: string
  /** Neighbours in recency order (least recently used first). */
  older: Entry | null
  newer: Entry | null
  kind: 'response' | 'conversation'
  /** A response as its JSON (one flat string, nothing for the garbage collector to trace), or a conversation. */
  value: string | StoredConversation
  items: Item[]
  events: StoredEvent[]
  bytes: number
  written: number
  leaseUntil: number
}

function sizeOf(value: unknown): number {
  return JSON.stringify(value).length
}

export class MemoryStore implements ResponseStore {
  readonly kind = 'memory'
  readonly #entries = new Map<string, Entry>()
  #oldest: Entry | null = null
  #newest: Entry | null = null
  readonly #maxEntries: number
  readonly #maxBytes: number
  readonly #wake = new EventEmitter()
  #bytes = 0
  #cancel: (id: string) => void = () => undefined

  constructor(maxEntries: number, maxBytes: number) {
    this.#maxEntries = maxEntries
    this.#maxBytes = maxBytes
    this.#wake.setMaxListeners(0)
  }

  /** Figures for the README's bounds and tests: entries kept and their bytes. */
  stats(): { entries: number; bytes: number } {
    return { entries: this.#entries.size, bytes: this.#bytes }
  }

  #get(id: string, kind: Entry['kind']): Entry | null {
    const entry = this.#entries.get(id)
    if (entry === undefined || entry.kind !== kind) return null
    this.#unlink(entry)
    this.#append(entry)
    return entry
  }

  // Recency is a linked list, not the Map's order: evicting from a Map's front leaves holes that every later
  // iteration from the front walks again (20 µs a response at 10,000 kept).
  #unlink(entry: Entry): void {
    if (entry.older) entry.older.newer = entry.newer
    else this.#oldest = entry.newer
    if (entry.newer) entry.newer.older = entry.older
    else this.#newest = entry.older
    entry.older = entry.newer = null
  }

  #append(entry: Entry): void {
    entry.older = this.#newest
    entry.newer = null
    if (this.#newest) this.#newest.newer = entry
    else this.#oldest = entry
    this.#newest = entry
  }

  #remove(entry: Entry): void {
    this.#entries.delete(entry.id)
    this.#unlink(entry)
    this.#bytes -= entry.bytes
  }

  #set(id: string, fields: Omit<Entry, 'id' | 'older' | 'newer'>): void {
    const old = this.#entries.get(id)
    if (old !== undefined) this.#remove(old)
    const entry: Entry = { id, older: null, newer: null, ...fields }
    this.#entries.set(id, entry)
    this.#append(entry)
    this.#bytes += entry.bytes
    while ((this.#entries.size > this.#maxEntries || this.#bytes > this.#maxBytes) && this.#oldest !== null && this.#oldest !== entry) {
      this.#remove(this.#oldest)
    }
  }

  #resize(entry: Entry, bytes: number): void {
    entry.bytes += bytes
    this.#bytes += bytes
  }

  async putResponse(record: StoredResponse, responseJson?: string): Promise<void> {
    const old = this.#entries.get(record.id)
    const json = recordJson(record, responseJson)
    // One flat string, not the tree of pieces the concatenation made (each piece an object for the GC to move).
    json.charCodeAt(0)
    let bytes = json.length
    let events: StoredEvent[] = []
    if (old !== undefined && old.events.length > 0) {
      events = old.events
      for (const event of events) bytes += event.json.length
    }
    this.#set(record.id, { kind: 'response', value: json, items: [], events, bytes, written: Date.now(), leaseUntil: old?.leaseUntil ?? 0 })
  }

  async getResponse(id: string): Promise<StoredResponse | null> {
    const json = this.#get(id, 'response')?.value as string | undefined
    return json === undefined ? null : parseRecord(json)
  }

  async deleteResponse(id: string): Promise<boolean> {
    const entry = this.#get(id, 'response')
    if (entry === null) return false
    this.#remove(entry)
    return true
  }

  async appendEvents(id: string, events: StoredEvent[]): Promise<void> {
    const entry = this.#entries.get(id)
    if (entry === undefined) return
    for (const event of events) {
      entry.events.push(event)
      this.#resize(entry, event.json.length)
    }
    this.#wake.emit(id)
  }

  async readEvents(id: string, after: number): Promise<StoredEvent[]> {
    const events = this.#entries.get(id)?.events ?? []
    // Sequence numbers start at 0 and have no gaps: the one after `after` is at index after + 1.
    return events.slice(Math.max(0, after + 1))
  }

  waitEvents(id: string, timeoutMs: number, signal: AbortSignal): Promise<void> {
    return wakeOf(this.#wake, id, timeoutMs, signal)
  }

  async requestCancel(id: string): Promise<void> {
    this.#cancel(id)
  }

  onCancel(handler: (id: string) => void): void {
    this.#cancel = handler
  }

  async renewLeases(ids: string[], until: number): Promise<void> {
    for (const id of ids) {
      const entry = this.#entries.get(id)
      if (entry) entry.leaseUntil = until
    }
  }

  async sweepLost(): Promise<string[]> {
    // One process: a run that is not running here died with the memory that held it.
    return []
  }

  async expire(before: number): Promise<void> {
    for (const entry of [...this.#entries.values()]) if (entry.written < before) this.#remove(entry)
  }

  async createConversation(record: StoredConversation, items: Item[]): Promise<void> {
    this.#set(record.id, { kind: 'conversation', value: record, items: items.slice(), events: [], bytes: sizeOf(record) + sizeOf(items), written: Date.now(), leaseUntil: 0 })
  }

  async getConversation(id: string): Promise<StoredConversation | null> {
    return (this.#get(id, 'conversation')?.value as StoredConversation | undefined) ?? null
  }

  async updateConversation(record: StoredConversation): Promise<void> {
    const entry = this.#get(record.id, 'conversation')
    if (entry) entry.value = record
  }

  async deleteConversation(id: string): Promise<boolean> {
    const entry = this.#get(id, 'conversation')
    if (entry === null) return false
    this.#remove(entry)
    return true
  }

  async addItems(conversation: string, items: Item[]): Promise<void> {
    const entry = this.#get(conversation, 'conversation')
    if (entry === null) return
    entry.items.push(...items)
    entry.written = Date.now()
    this.#resize(entry, sizeOf(items))
  }

  async allItems(conversation: string): Promise<Item[]> {
    return this.#get(conversation, 'conversation')?.items.slice() ?? []
  }

  async listItems(conversation: string, query: PageQuery): Promise<Page<Item>> {
    return pageOf(this.#get(conversation, 'conversation')?.items ?? [], query)
  }

  async getItem(conversation: string, item: string): Promise<Item | null> {
    return this.#get(conversation, 'conversation')?.items.find((one) => one.id === item) ?? null
  }

  async deleteItem(conversation: string, item: string): Promise<boolean> {
    const entry = this.#get(conversation, 'conversation')
    const at = entry?.items.findIndex((one) => one.id === item) ?? -1
    if (at < 0) return false
    entry!.items.splice(at, 1)
    return true
  }

  async close(): Promise<void> {
    this.#wake.removeAllListeners()
  }
}
