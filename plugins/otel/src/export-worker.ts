// The export thread: turns the request thread's span records into the SDK's ReadableSpans (same ids, parents and
// times) and exports them with the SDK's batch processor and OTLP exporter. Building and serialising spans costs
// more CPU than the request they describe; here it costs the request thread nothing.
import { parentPort, workerData } from 'node:worker_threads'
import type { SpanContext } from '@opentelemetry/api'
import { hrTimeDuration, millisToHrTime, TraceState } from '@opentelemetry/core'
import { BatchSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base'
import type { OtelSettings } from './config.js'
import { createExporter } from './exporter.js'
import type { FromExport, SpanRecord, ToExport } from './span-record.js'
import { resourceOf } from './tracing.js'

const port = parentPort!
const { settings, version } = workerData as { settings: OtelSettings; version: string }

function send(message: FromExport): void {
  port.postMessage(message)
}

const processor = new BatchSpanProcessor(createExporter(settings, (fields, message) => send({ type: 'warn', fields, message })), settings.batch)
const resource = resourceOf(settings, version)
const scope = { name: '@robutler/plugin-otel', version }
const NONE: never[] = []

/** A record as the SDK's finished span: what its processor and exporters read. */
function readable(record: SpanRecord): ReadableSpan {
  const context: SpanContext = { traceId: record.traceId, spanId: record.spanId, traceFlags: 1 }
  const traceState = record.traceState === undefined ? undefined : new TraceState(record.traceState)
  const parentSpanContext: SpanContext | undefined =
    record.parentSpanId === '' ? undefined : { traceId: record.traceId, spanId: record.parentSpanId, traceFlags: 1, traceState }
  const startTime = millisToHrTime(record.start)
  const endTime = millisToHrTime(record.end)
  return {
    name: record.name,
    kind: record.kind,
    spanContext: () => context,
    parentSpanContext,
    startTime,
    endTime,
    duration: hrTimeDuration(startTime, endTime),
    status: record.message === undefined ? { code: record.status } : { code: record.status, message: record.message },
    attributes: record.attributes,
    links: NONE,
    events: NONE,
    ended: true,
    resource,
    instrumentationScope: scope,
    droppedAttributesCount: 0,
    droppedEventsCount: 0,
    droppedLinksCount: 0,
  }
}

port.on('message', (message: ToExport) => {
  if (message.type === 'spans') {
    for (const record of JSON.parse(message.json) as SpanRecord[]) processor.onEnd(readable(record))
    send({ type: 'taken', count: message.count })
    return
  }
  processor
    .shutdown()
    .catch((error: unknown) => send({ type: 'warn', fields: { reason: String(error) }, message: 'flushing the last spans failed' }))
    .finally(() => send({ type: 'closed' }))
})
