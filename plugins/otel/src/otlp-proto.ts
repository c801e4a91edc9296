// OTLP protobuf, written by hand from our own spans: the request thread encodes each finished span straight into a
// batch buffer (no SDK span, no transformer), the export thread wraps the batches it is handed in one
// ExportTraceServiceRequest. Field numbers from opentelemetry-proto (collector/trace/v1/trace_service.proto,
// trace/v1/trace.proto, common/v1/common.proto, resource/v1/resource.proto), written as the SDK's serializer writes
// them (attributes in insertion order, integers as int_value, other numbers as double_value, status code always).
import type { Attributes, AttributeValue } from '@opentelemetry/api'
import type { Span, TraceWords } from './span-record.js'

const LEN = 2
const VARINT = 0
const I64 = 1
const I32 = 5
/** SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK | sampled: our spans' parents are never marked remote, as the SDK's were not. */
const SPAN_FLAGS = 0x100 | 0x01
const utf8 = new TextEncoder()

/** A growing byte buffer with protobuf's writers; `take()` hands its bytes over (their buffer can be transferred). */
export class ProtoWriter {
  buf: Uint8Array
  pos = 0
  /** A double's eight bytes, little-endian on every platform Node runs on (x64, arm64). */
  readonly #float = new Float64Array(1)
  readonly #floatBytes = new Uint8Array(this.#float.buffer)

  constructor(size = 64 * 1024) {
    this.buf = new Uint8Array(size)
  }

  /** Room for n more bytes. */
  ensure(n: number): void {
    if (this.pos + n > this.buf.length) this.#grow(n)
  }

  #grow(n: number): void {
    let size = this.buf.length * 2
    while (size < this.pos + n) size *= 2
    const next = new Uint8Array(size)
    next.set(this.buf.subarray(0, this.pos))
    this.buf = next
  }

  /** The bytes written, in a buffer of their own; the writer starts over. */
  take(): Uint8Array {
    const out = this.buf.slice(0, this.pos)
    this.pos = 0
    return out
  }

  varint(value: number): void {
    this.ensure(10)
    const b = this.buf
    if (value >= 0 && value < 0x80) {
      b[this.pos++] = value
      return
    }
    if (value < 0) {
      // int64 two's complement: ten bytes.
      let lo = value >>> 0
      let hi = Math.floor(value / 0x100000000) >>> 0
      for (let i = 0; i < 9; i++) {
        b[this.pos++] = (lo & 0x7f) | 0x80
        lo = ((lo >>> 7) | (hi << 25)) >>> 0
        hi >>>= 7
      }
      b[this.pos++] = lo & 0x01
      return
    }
    while (value > 0x7f) {
      b[this.pos++] = (value % 0x80) | 0x80
      value = Math.floor(value / 0x80)
    }
    b[this.pos++] = value
  }

  /** A field's key: one byte for the fields below 16, which are all this file writes but 16. */
  tag(field: number, wire: number): void {
    if (field < 16) {
      this.ensure(1)
      this.buf[this.pos++] = (field << 3) | wire
    } else this.varint((field << 3) | wire)
  }

  #uint32(value: number): void {
    const b = this.buf
    const p = this.pos
    b[p] = value & 0xff
    b[p + 1] = (value >>> 8) & 0xff
    b[p + 2] = (value >>> 16) & 0xff
    b[p + 3] = value >>> 24
    this.pos = p + 4
  }

  fixed32(value: number): void {
    this.ensure(4)
    this.#uint32(value)
  }

  /** A span id's two words (ids.ts) as a bytes field: big-endian, as their hex reads. */
  spanId(field: number, hi: number, lo: number): void {
    this.tag(field, LEN)
    this.ensure(9)
    this.buf[this.pos++] = 8
    this.#word(hi)
    this.#word(lo)
  }

  /** A trace id's four words as a bytes field. */
  traceId(field: number, words: readonly number[]): void {
    this.tag(field, LEN)
    this.ensure(17)
    this.buf[this.pos++] = 16
    this.#word(words[0]!)
    this.#word(words[1]!)
    this.#word(words[2]!)
    this.#word(words[3]!)
  }

  #word(word: number): void {
    const b = this.buf
    const p = this.pos
    b[p] = word >>> 24
    b[p + 1] = (word >>> 16) & 0xff
    b[p + 2] = (word >>> 8) & 0xff
    b[p + 3] = word & 0xff
    this.pos = p + 4
  }

  double(value: number): void {
    this.ensure(8)
    this.#float[0] = value
    this.buf.set(this.#floatBytes, this.pos)
    this.pos += 8
  }

  /** Epoch milliseconds (sub-millisecond precise) as fixed64 nanoseconds, rounded as the SDK's millisToHrTime. */
  epochNanos(ms: number): void {
    const seconds = Math.trunc(ms / 1000)
    const nanos = Math.round((ms % 1000) * 1_000_000)
    // seconds * 1e9 + nanos, exactly, as [low32, high32]: split seconds so every product stays below 2^53.
    const lower = (seconds % 0x10000) * 1e9
    const upper = Math.floor(seconds / 0x10000) * 1e9
    const low = (lower % 0x100000000) + (upper % 0x10000) * 0x10000 + nanos
    const high = Math.floor(lower / 0x100000000) + Math.floor(upper / 0x10000) + Math.floor(low / 0x100000000)
    this.ensure(8)
    this.#uint32(low >>> 0)
    this.#uint32(high >>> 0)
  }

  /** Bytes already encoded (a cached field). */
  raw(bytes: Uint8Array): void {
    const n = bytes.length
    this.ensure(n)
    // A loop beats TypedArray.prototype.set's fixed cost for the few dozen bytes of a cached field.
    if (n > 64) this.buf.set(bytes, this.pos)
    else {
      const b = this.buf
      const p = this.pos
      for (let i = 0; i < n; i++) b[p + i] = bytes[i]!
    }
    this.pos += n
  }

  /** A length-delimited field's start: one byte kept for the length, which `close` fills (moving the body if longer). */
  open(field: number): number {
    this.tag(field, LEN)
    this.ensure(1)
    return this.pos++
  }

  close(at: number): void {
    const length = this.pos - at - 1
    if (length < 0x80) {
      this.buf[at] = length
      return
    }
    let extra = 0
    for (let v = length >>> 7; v > 0; v >>>= 7) extra++
    this.ensure(extra)
    this.buf.copyWithin(at + 1 + extra, at + 1, this.pos)
    this.pos += extra
    let p = at
    let v = length
    while (v > 0x7f) {
      this.buf[p++] = (v & 0x7f) | 0x80
      v >>>= 7
    }
    this.buf[p] = v
  }

  string(field: number, text: string): void {
    const at = this.open(field)
    const n = text.length
    this.ensure(n)
    const b = this.buf
    let p = this.pos
    let i = 0
    for (; i < n; i++) {
      const c = text.charCodeAt(i)
      if (c >= 0x80) break
      b[p++] = c
    }
    this.pos = p
    if (i < n) {
      // Not ASCII: the rest as UTF-8.
      const rest = text.slice(i)
      this.ensure(rest.length * 3)
      this.pos += utf8.encodeInto(rest, this.buf.subarray(this.pos)).written
    }
    this.close(at)
  }
}

function anyValue(w: ProtoWriter, value: AttributeValue | null | undefined): void {
  if (typeof value === 'string') w.string(1, value)
  else if (typeof value === 'boolean') {
    w.tag(2, VARINT)
    w.varint(value ? 1 : 0)
  } else if (typeof value === 'number') {
    if (Number.isInteger(value) && value >= -(2 ** 63) && value < 2 ** 63) {
      w.tag(3, VARINT)
      w.varint(value)
    } else {
      w.tag(4, I64)
      w.double(value)
    }
  } else if (Array.isArray(value)) {
    const array = w.open(5)
    for (const item of value) {
      const at = w.open(1)
      anyValue(w, item)
      w.close(at)
    }
    w.close(array)
  }
}

function keyValue(w: ProtoWriter, field: number, key: string, value: AttributeValue): void {
  const kv = w.open(field)
  w.string(1, key)
  const v = w.open(2)
  anyValue(w, value)
  w.close(v)
  w.close(kv)
}

/** Repeated KeyValue at `field`, from an object (the resource's attributes). */
export function writeAttributes(w: ProtoWriter, field: number, attributes: Attributes): void {
  for (const key in attributes) {
    const value = attributes[key]
    if (value !== undefined) keyValue(w, field, key, value)
  }
}

const MAX_NAMES = 1024
const MAX_CACHED_TEXT = 128
/** Misses past hits after which an attribute's values are no longer cached (they differ span to span: ids, paths). */
const MAX_MISSES_OVER_HITS = 16

/** An attribute name's last two values and their whole encoded KeyValues (two: a name may alternate between two
 * spans of a request, as gen_ai.operation.name does between invoke_agent and chat). */
interface LastValues {
  value: AttributeValue
  bytes: Uint8Array | null
  before: AttributeValue | undefined
  beforeBytes: Uint8Array | null
  hits: number
  misses: number
}

/**
 * Writes spans as ScopeSpans.spans fields (2): batches of these concatenate into one ScopeSpans body. Attribute names
 * come from our code, a few dozen, and most of their values repeat from span to span (operation, provider, model,
 * method, route, status, token counts): each name's last two short scalar values are kept with their encoded
 * KeyValues, which are then copied, not encoded again. A name whose values keep changing (a request id) stops being
 * kept.
 */
export class SpanEncoder {
  readonly #last = new Map<string, LastValues>()
  /** Span names (they repeat: request-traces.ts makes each once) as encoded fields. */
  readonly #names = new Map<string, Uint8Array>()

  write(w: ProtoWriter, trace: TraceWords, span: Span, traceState: string | undefined): void {
    const at = w.open(2)
    w.traceId(1, trace)
    w.spanId(2, span.hi, span.lo)
    if (traceState) w.string(3, traceState)
    if (span.parentHi !== 0 || span.parentLo !== 0) w.spanId(4, span.parentHi, span.parentLo)
    this.#name(w, span.name)
    // OTLP's kinds are the API's plus one (0 is unspecified).
    w.tag(6, VARINT)
    w.varint(span.kind + 1)
    w.tag(7, I64)
    w.epochNanos(span.start)
    w.tag(8, I64)
    w.epochNanos(span.end)
    const attributes = span.attributes
    for (let i = 0; i < attributes.length; i += 2) {
      const value = attributes[i + 1]
      if (value !== undefined && value !== null) this.#attribute(w, attributes[i] as string, value)
    }
    // dropped attributes, events, links: none (no events nor links are recorded).
    w.tag(10, VARINT)
    w.varint(0)
    w.tag(12, VARINT)
    w.varint(0)
    w.tag(14, VARINT)
    w.varint(0)
    const status = w.open(15)
    if (span.message) w.string(2, span.message)
    w.tag(3, VARINT)
    w.varint(span.status)
    w.close(status)
    w.tag(16, I32)
    w.fixed32(SPAN_FLAGS)
    w.close(at)
  }

  #name(w: ProtoWriter, name: string): void {
    const known = this.#names.get(name)
    if (known !== undefined) return w.raw(known)
    const at = w.pos
    w.string(5, name)
    if (this.#names.size < MAX_NAMES) this.#names.set(name, w.buf.slice(at, w.pos))
  }

  /** One attribute as a KeyValue (field 9): copied when it is its name's last value, else encoded (and kept). */
  #attribute(w: ProtoWriter, key: string, value: AttributeValue): void {
    const type = typeof value
    // Short scalars, and lists kept by identity (request-traces.ts hands the same finish-reason list each time).
    const scalar = type === 'string' ? (value as string).length <= MAX_CACHED_TEXT : type === 'number' || type === 'boolean' || (Array.isArray(value) && value.length <= 4)
    const last = scalar ? this.#last.get(key) : undefined
    if (last !== undefined) {
      if (last.value === value && last.bytes !== null) {
        last.hits++
        return w.raw(last.bytes)
      }
      if (last.before === value && last.beforeBytes !== null) {
        last.hits++
        return w.raw(last.beforeBytes)
      }
    }
    const at = w.pos
    keyValue(w, 9, key, value)
    if (!scalar) return
    if (last === undefined) {
      if (this.#last.size < MAX_NAMES) this.#last.set(key, { value, bytes: w.buf.slice(at, w.pos), before: undefined, beforeBytes: null, hits: 0, misses: 0 })
    } else if (++last.misses <= last.hits + MAX_MISSES_OVER_HITS) {
      last.before = last.value
      last.beforeBytes = last.bytes
      last.value = value
      last.bytes = w.buf.slice(at, w.pos)
    } else last.bytes = last.beforeBytes = null
  }
}

/**
 * One ExportTraceServiceRequest of spans written by a SpanEncoder: resource_spans (1) { resource (1), scope_spans (2)
 * { scope (1), spans… } }.
 */
export function exportRequest(resource: Attributes, scope: { name: string; version: string }, spans: readonly Uint8Array[]): Uint8Array {
  const head = new ProtoWriter(1024)
  const r = head.open(1)
  writeAttributes(head, 1, resource)
  head.tag(2, VARINT)
  head.varint(0)
  head.close(r)
  const scopeStart = head.pos
  const s = head.open(1)
  head.string(1, scope.name)
  head.string(2, scope.version)
  head.close(s)
  const resourceField = head.buf.subarray(0, scopeStart)
  const scopeField = head.buf.subarray(scopeStart, head.pos)
  let spansLength = 0
  for (const chunk of spans) spansLength += chunk.length
  const scopeSpansBody = scopeField.length + spansLength
  const resourceSpansBody = resourceField.length + 1 + varintSize(scopeSpansBody) + scopeSpansBody
  const out = new ProtoWriter(32 + resourceSpansBody)
  out.tag(1, LEN)
  out.varint(resourceSpansBody)
  out.buf.set(resourceField, out.pos)
  out.pos += resourceField.length
  out.tag(2, LEN)
  out.varint(scopeSpansBody)
  for (const part of [scopeField, ...spans]) {
    out.buf.set(part, out.pos)
    out.pos += part.length
  }
  return out.buf.subarray(0, out.pos)
}

function varintSize(value: number): number {
  let n = 1
  while (value > 0x7f) {
    value = Math.floor(value / 0x80)
    n++
  }
  return n
}
