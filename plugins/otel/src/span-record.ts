// A span as the request thread keeps it (Span: ids as words, attributes as a flat list), and as OTLP JSON's path hands
// it to the export thread (SpanRecord: plain data as JSON text, which the export thread turns into an SDK span).
import type { Attributes, AttributeValue } from '@opentelemetry/api'

/** A trace id as its four words (ids.ts). */
export type TraceWords = [number, number, number, number]

/** A span of a sampled request. */
export interface Span {
  /** Its id's two words. */
  hi: number
  lo: number
  /** Its parent's (0, 0 for a root span). */
  parentHi: number
  parentLo: number
  name: string
  /** OpenTelemetry's SpanKind. */
  kind: number
  /** Epoch milliseconds, sub-millisecond precise; `end` is 0 until it ends. */
  start: number
  end: number
  /** Names and values in turn: [name, value, name, value, …]. */
  attributes: Array<string | AttributeValue>
  /** SpanStatusCode (0 unset, 2 error) and its message. */
  status: number
  message?: string
}

export interface SpanRecord {
  traceId: string
  spanId: string
  /** '' for a root span. */
  parentSpanId: string
  /** The parent's tracestate, when the client sent one (root spans of a continued trace). */
  traceState?: string
  name: string
  /** OpenTelemetry's SpanKind. */
  kind: number
  /** Epoch milliseconds, sub-millisecond precise. */
  start: number
  end: number
  attributes: Attributes
  /** SpanStatusCode (0 unset, 2 error) and its message. */
  status: number
  message?: string
}

/** What the request thread sends the export thread. */
export type ToExport =
  | { type: 'spans'; /** SpanRecord[] as JSON (OTLP JSON) */ json: string; count: number }
  | { type: 'shutdown' }

/** What the export thread answers: spans taken (OTLP JSON: so the request thread knows how far behind it is), a warning, closed. */
export type FromExport = { type: 'taken'; count: number } | { type: 'warn'; fields: Record<string, unknown>; message: string } | { type: 'closed' }
