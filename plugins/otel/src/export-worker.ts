// The export thread: turns the request thread's span records into OpenTelemetry SDK spans (same ids, parents and
// times) and exports them with the SDK's batch processor and OTLP exporter. Building SDK spans and serialising them
// costs more CPU than the request they describe; here it costs the request thread nothing.
import { parentPort, workerData } from 'node:worker_threads'
import { ROOT_CONTEXT, trace, type Context } from '@opentelemetry/api'
import type { IdGenerator } from '@opentelemetry/sdk-trace-base'
import { TraceState } from '@opentelemetry/core'
import type { OtelSettings } from './config.js'
import { createExporter } from './exporter.js'
import type { FromExport, SpanRecord, ToExport } from './span-record.js'
import { createTracerProvider } from './tracing.js'

const port = parentPort!
const { settings, version } = workerData as { settings: OtelSettings; version: string }

/** Hands the SDK the ids the request thread chose (they went out in traceparent headers and log lines). */
class GivenIds implements IdGenerator {
  traceId = ''
  spanId = ''
  generateTraceId(): string {
    return this.traceId
  }
  generateSpanId(): string {
    return this.spanId
  }
}

function send(message: FromExport): void {
  port.postMessage(message)
}

const ids = new GivenIds()
const exporter = createExporter(settings, (fields, message) => send({ type: 'warn', fields, message }))
const provider = createTracerProvider({ ...settings, sampler: 'always_on' }, exporter, version, ids)
const tracer = provider.getTracer('@robutler/plugin-otel', version)

function parentOf(record: SpanRecord): Context {
  if (record.parentSpanId === '') return ROOT_CONTEXT
  const traceState = record.traceState === undefined ? undefined : new TraceState(record.traceState)
  return trace.setSpanContext(ROOT_CONTEXT, { traceId: record.traceId, spanId: record.parentSpanId, traceFlags: 1, isRemote: true, traceState })
}

function replay(record: SpanRecord): void {
  ids.traceId = record.traceId
  ids.spanId = record.spanId
  const span = tracer.startSpan(record.name, { kind: record.kind, attributes: record.attributes, startTime: record.start }, parentOf(record))
  if (record.status !== 0) span.setStatus({ code: record.status, message: record.message })
  span.end(record.end)
}

port.on('message', (message: ToExport) => {
  if (message.type === 'spans') {
    for (const record of JSON.parse(message.json) as SpanRecord[]) replay(record)
    send({ type: 'taken', count: message.count })
    return
  }
  provider
    .shutdown()
    .catch((error: unknown) => send({ type: 'warn', fields: { reason: String(error) }, message: 'flushing the last spans failed' }))
    .finally(() => send({ type: 'closed' }))
})
