// The span exporter: OTLP over HTTP, protobuf or JSON, behind a guard that turns a collector that cannot be reached
// into a dropped batch and one warning a minute (the SDK's own error handler reports nowhere by default).
import { ExportResultCode, type ExportResult } from '@opentelemetry/core'
import { OTLPTraceExporter as JsonExporter } from '@opentelemetry/exporter-trace-otlp-http'
import { OTLPTraceExporter as ProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto'
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base'
import type { OtelSettings } from './config.js'

const WARN_EVERY_MS = 60_000

/** Where a warning goes: the server's log (from the export thread, through its parent). */
export type Warn = (fields: Record<string, unknown>, message: string) => void

/** Wraps an exporter: failed exports are counted and warned about at most once a minute, with what was dropped. */
export class WarningExporter implements SpanExporter {
  readonly #inner: SpanExporter
  readonly #warn: Warn
  readonly #url: string
  #lastWarning = -Infinity
  #dropped = 0

  constructor(inner: SpanExporter, warn: Warn, url: string) {
    this.#inner = inner
    this.#warn = warn
    this.#url = url
  }

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    this.#inner.export(spans, (result) => {
      if (result.code !== ExportResultCode.SUCCESS) this.#failed(spans.length, result.error)
      done(result)
    })
  }

  #failed(count: number, error: Error | undefined): void {
    this.#dropped += count
    const now = Date.now()
    if (now - this.#lastWarning < WARN_EVERY_MS) return
    this.#lastWarning = now
    this.#warn({ url: this.#url, droppedSpans: this.#dropped, reason: error?.message ?? 'export failed' }, 'trace export failed: spans dropped (next warning in a minute at the earliest)')
    this.#dropped = 0
  }

  shutdown(): Promise<void> {
    return this.#inner.shutdown()
  }

  forceFlush(): Promise<void> {
    return this.#inner.forceFlush?.() ?? Promise.resolve()
  }
}

export function createExporter(settings: OtelSettings, warn: Warn): SpanExporter {
  const options = { url: settings.url, headers: settings.headers, timeoutMillis: settings.batch.exportTimeoutMillis }
  const inner = settings.protocol === 'http/json' ? new JsonExporter(options) : new ProtoExporter(options)
  return new WarningExporter(inner, warn, settings.url)
}
