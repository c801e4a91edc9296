// A finished span as the request thread hands it to the export thread: plain data (it crosses postMessage), built
// cheaply on the request path; the export thread turns it into an OpenTelemetry SDK span and exports it.
import type { Attributes } from '@opentelemetry/api'

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
  | { type: 'encoded'; /** ScopeSpans.spans fields, OTLP protobuf (otlp-proto.ts) */ bytes: Uint8Array; count: number }
  | { type: 'shutdown' }

/** What the export thread answers: spans taken (so the request thread knows how far behind it is), a warning, closed. */
export type FromExport = { type: 'taken'; count: number } | { type: 'warn'; fields: Record<string, unknown>; message: string } | { type: 'closed' }
