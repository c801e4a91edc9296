// The SDK's span exporter for OTLP/HTTP JSON (protobuf is encoded by otlp-proto.ts and posted by otlp-http.ts),
// behind a guard that turns a collector that cannot be reached into a dropped batch and one warning a minute (the
// SDK's own error handler reports nowhere by default).
import { ExportResultCode, type ExportResult } from '@opentelemetry/core'
import { OTLPTraceExporter as JsonExporter } from '@opentelemetry/exporter-trace-otlp-http'
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base'
import type { OtelSettings } from './config.js'

const WARN_EVERY_MS = 60_000

/** Where a warning goes: the server's log (from the export thread, through its parent). */
export type Warn = (fields: Record<string, unknown>, message: string) => void

/** Failed exports, counted and warned about at most once a minute, with what was dropped. */
export class ExportWarnings {
  readonly #warn: Warn
  readonly #url: string
  #lastWarning = -Infinity
  #dropped = 0

  constructor(warn: Warn, url: string) {
    this.#warn = warn
    this.#url = url
  }

  failed(count: number, reason: string): void {
    this.#dropped += count
    const now = Date.now()
    if (now - this.#lastWarning < WARN_EVERY_MS) return
    this.#lastWarning = now
    this.#warn({ url: this.#url, droppedSpans: this.#dropped, reason }, 'trace export failed: spans dropped (next warning in a minute at the earliest)')
    this.#dropped = 0
  }
}

/** Wraps an exporter: failed exports are counted and warned about at most once a minute, with what was dropped. */
export class WarningExporter implements SpanExporter {
  readonly #inner: SpanExporter
  readonly #warnings: ExportWarnings

  constructor(inner: SpanExporter, warn: Warn, url: string) {
    this.#inner = inner
    this.#warnings = new ExportWarnings(warn, url)
  }

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    this.#inner.export(spans, (result) => {
      if (result.code !== ExportResultCode.SUCCESS) this.#warnings.failed(spans.length, result.error?.message ?? 'export failed')
      done(result)
    })
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
  return new WarningExporter(new JsonExporter(options), warn, settings.url)
}
