// One run as a Responses API `response`: its output items (reasoning, messages, the client's function calls) built
// from the loop's events, and — when something listens — the documented stream events with their sequence
// numbers: response.created, response.in_progress, output_item.added, content_part.added, output_text.delta …
// output_item.done, function_call_arguments.delta/.done, and response.completed / .incomplete / .failed.
import type { AgentEvent, RobutlerError, Usage } from '@robutler/kernel'
import { newId } from './ids.js'
import { callName, type Item } from './items.js'

/** A stream event, told as soon as it is made (serialize it then: the response object it carries changes later). */
export type Emit = (event: Record<string, unknown>) => void | Promise<void>

type Open = { kind: 'message' | 'reasoning' | 'refusal'; item: Item; index: number; text: string }

const NONE: ReadonlySet<string> = new Set()

const TERMINAL = new Set(['response.completed', 'response.incomplete', 'response.failed'])

/** True for the events that end a stream. */
export function isTerminal(type: unknown): boolean {
  return TERMINAL.has(type as string)
}

/** The Responses usage of the loop's (Chat Completions) usage. */
export function usageOf(usage: Usage): Record<string, unknown> {
  const prompt = (usage.prompt_tokens_details as { cached_tokens?: number } | undefined)?.cached_tokens ?? 0
  const reasoning = (usage.completion_tokens_details as { reasoning_tokens?: number } | undefined)?.reasoning_tokens ?? 0
  return {
    input_tokens: usage.prompt_tokens,
    input_tokens_details: { cached_tokens: prompt },
    output_tokens: usage.completion_tokens,
    output_tokens_details: { reasoning_tokens: reasoning },
    total_tokens: usage.total_tokens,
  }
}

/** An error as the response object's `error` field. */
export function errorField(error: RobutlerError): { code: string; message: string } {
  return { code: error.code, message: error.message }
}

export class ResponseRender {
  /** The response object, changed as the run goes (status, output, usage). */
  readonly response: Record<string, unknown> & { output: Item[] }
  /** Every item the run made, in order: the output's and the internal tool calls with their results (history). */
  readonly items: Item[] = []
  #emit: Emit | null
  #sequence = 0
  #open: Open | null = null
  /** The client's function calls of this turn, by the stream's index. */
  #calls = new Map<number, { item: Item; index: number }>()
  /** Internal calls of this turn, by the stream's index (their deltas are not the client's). */
  #internalCalls = new Set<number>()
  #waits: Array<Promise<void>> | null = null

  readonly #namespaces: ReadonlySet<string>

  /** `namespaces`: those of the client's tools, whose calls go back split (`name` and `namespace`). */
  constructor(response: Record<string, unknown> & { output: Item[] }, emit: Emit | null, namespaces: ReadonlySet<string> = NONE) {
    this.response = response
    this.#emit = emit
    this.#namespaces = namespaces
  }

  /** The next event's sequence number. */
  get sequence(): number {
    return this.#sequence
  }

  /** Changes who hears the events (a background stream whose client left keeps only its log). */
  set emit(emit: Emit | null) {
    this.#emit = emit
  }

  /** Tells an event (when someone listens). */
  tell(type: string, data: Record<string, unknown>): void | Promise<void> {
    const emit = this.#emit
    if (emit === null) return undefined
    const wait = emit({ type, ...data, sequence_number: this.#sequence++ })
    if (wait) (this.#waits ??= []).push(wait)
    return undefined
  }

  /** Waits for what the listener asked to be waited for (a slow client). */
  #flush(): Promise<void> | undefined {
    const waits = this.#waits
    if (waits === null) return undefined
    this.#waits = null
    return waits.length === 1 ? waits[0] : Promise.all(waits).then(() => undefined)
  }

  /** response.created (or .queued) and response.in_progress. */
  start(queued = false): Promise<void> | undefined {
    if (queued) {
      this.tell('response.queued', { response: this.response })
    } else {
      this.tell('response.created', { response: this.response })
      this.tell('response.in_progress', { response: this.response })
    }
    return this.#flush()
  }

  /** One loop event. */
  event(event: AgentEvent): Promise<void> | undefined {
    switch (event.type) {
      case 'text-delta':
        this.#delta('message', event.text)
        break
      case 'refusal-delta':
        this.#delta('refusal', event.text)
        break
      case 'reasoning-delta':
        this.#delta('reasoning', event.text)
        break
      case 'tool-call-start':
        if (event.external) this.#callStart(event.index, event.id, event.name)
        else this.#internalCalls.add(event.index)
        break
      case 'tool-call-delta':
        this.#callDelta(event.index, event.arguments)
        break
      case 'tool-call':
        if (event.external) this.#callDone(event.call.id, event.call.function.name, event.call.function.arguments)
        else this.items.push({ id: newId('fc'), type: 'function_call', call_id: event.call.id, name: event.call.function.name, arguments: event.call.function.arguments, status: 'completed' })
        break
      case 'tool-result':
        this.items.push({ id: newId('fco'), type: 'function_call_output', call_id: event.callId, output: event.content, status: 'completed' })
        break
      case 'turn-end':
        this.#close()
        this.#calls.clear()
        this.#internalCalls.clear()
        break
      case 'final':
        this.#close()
        this.#finish(event)
        break
      case 'error':
        this.fail(event.error)
        break
      default:
        break
    }
    return this.#flush()
  }

  /** Ends the response as failed: an `error` event, then response.failed. */
  fail(error: RobutlerError): Promise<void> | undefined {
    this.#close()
    const response = this.response
    response.status = 'failed'
    response.error = errorField(error)
    this.tell('error', { code: error.code, message: error.message, param: error.param })
    this.tell('response.failed', { response })
    return this.#flush()
  }

  /** Ends the response as cancelled (a background run stopped by `cancel`). */
  cancel(): Promise<void> | undefined {
    this.#close()
    this.response.status = 'cancelled'
    this.tell('response.failed', { response: this.response })
    return this.#flush()
  }

  #delta(kind: Open['kind'], text: string): void {
    let open = this.#open
    if (open === null || open.kind !== kind) {
      this.#close()
      open = this.#openItem(kind)
    }
    open.text += text
    if (this.#emit === null) return
    const at = { item_id: open.item.id, output_index: open.index, content_index: 0 }
    if (kind === 'message') this.tell('response.output_text.delta', { ...at, delta: text, logprobs: [] })
    else if (kind === 'refusal') this.tell('response.refusal.delta', { ...at, delta: text })
    else this.tell('response.reasoning_text.delta', { ...at, delta: text })
  }

  #openItem(kind: Open['kind']): Open {
    const output = this.response.output
    const item: Item =
      kind === 'reasoning'
        ? { id: newId('rs'), type: 'reasoning', summary: [], content: [] }
        : { id: newId('msg'), type: 'message', status: 'in_progress', role: 'assistant', content: [] }
    const open: Open = { kind, item, index: output.length, text: '' }
    this.#open = open
    output.push(item)
    this.items.push(item)
    if (this.#emit === null) return open
    this.tell('response.output_item.added', { output_index: open.index, item })
    const part = kind === 'message' ? { type: 'output_text', text: '', annotations: [], logprobs: [] } : kind === 'refusal' ? { type: 'refusal', refusal: '' } : null
    if (part) this.tell('response.content_part.added', { item_id: item.id, output_index: open.index, content_index: 0, part })
    return open
  }

  #close(): void {
    const open = this.#open
    if (open === null) return
    this.#open = null
    const { item, index, text } = open
    const listened = this.#emit !== null
    const at = listened ? { item_id: item.id, output_index: index, content_index: 0 } : null
    if (open.kind === 'reasoning') {
      item.content = [{ type: 'reasoning_text', text }]
      if (listened) this.tell('response.reasoning_text.done', { ...at, text })
    } else {
      const part = open.kind === 'message' ? { type: 'output_text', text, annotations: [], logprobs: [] } : { type: 'refusal', refusal: text }
      if (listened) {
        if (open.kind === 'message') this.tell('response.output_text.done', { ...at, text, logprobs: [] })
        else this.tell('response.refusal.done', { ...at, refusal: text })
        this.tell('response.content_part.done', { ...at, part })
      }
      item.content = [part]
      item.status = 'completed'
    }
    if (listened) this.tell('response.output_item.done', { output_index: index, item })
  }

  #callStart(index: number, callId: string, name: string): void {
    this.#close()
    const output = this.response.output
    const item: Item = { id: newId('fc'), type: 'function_call', status: 'in_progress', arguments: '', call_id: callId, ...callName(name, this.#namespaces) }
    this.#calls.set(index, { item, index: output.length })
    output.push(item)
    this.items.push(item)
    this.tell('response.output_item.added', { output_index: output.length - 1, item })
  }

  #callDelta(index: number, delta: string): void {
    const call = this.#calls.get(index)
    if (call === undefined) return
    call.item.arguments = (call.item.arguments as string) + delta
    this.tell('response.function_call_arguments.delta', { item_id: call.item.id, output_index: call.index, delta })
  }

  /** A whole client call at the end of its turn: its done events (added first when its start was not streamed). */
  #callDone(callId: string, name: string, args: string): void {
    let found: { item: Item; index: number } | undefined
    for (const call of this.#calls.values()) if (call.item.call_id === callId) found = call
    if (found === undefined) {
      this.#callStart(-1 - this.#calls.size, callId, name)
      found = [...this.#calls.values()].at(-1)!
      if (args) this.tell('response.function_call_arguments.delta', { item_id: found.item.id, output_index: found.index, delta: args })
    }
    const { item, index } = found
    item.arguments = args
    item.status = 'completed'
    this.tell('response.function_call_arguments.done', { item_id: item.id, output_index: index, name: item.name, arguments: args })
    this.tell('response.output_item.done', { output_index: index, item })
  }

  #finish(event: Extract<AgentEvent, { type: 'final' }>): void {
    const response = this.response
    response.usage = usageOf(event.usage)
    response.completed_at = Math.floor(Date.now() / 1000)
    if (event.finishReason === 'length' || event.finishReason === 'content_filter') {
      response.status = 'incomplete'
      response.incomplete_details = { reason: event.finishReason === 'length' ? 'max_output_tokens' : 'content_filter' }
      this.tell('response.incomplete', { response })
    } else {
      response.status = 'completed'
      this.tell('response.completed', { response })
    }
  }
}
