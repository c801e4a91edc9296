// The export thread. OTLP protobuf (the default): the request thread hands over spans already encoded
// (otlp-proto.ts) through a shared ring (ring.ts), which this thread reads every few milliseconds; it batches them as the SDK's batch processor would (OTEL_BSP_*), wraps each batch in one
// ExportTraceServiceRequest and posts it on a keep-alive connection. OTLP JSON: it turns the request thread's span
// records into the SDK's ReadableSpans (same ids, parents and times) and exports them with the SDK's batch processor
// and JSON exporter.
import { parentPort, workerData } from 'node:worker_threads'
import type { SpanContext } from '@opentelemetry/api'
import { hrTimeDuration, millisToHrTime, TraceState } from '@opentelemetry/core'
import { BatchSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base'
import type { OtelSettings } from './config.js'
import { createExporter, ExportWarnings } from './exporter.js'
import { OtlpHttpSender } from './otlp-http.js'
import { exportRequest } from './otlp-proto.js'
import { RingReader } from './ring.js'
import type { FromExport, SpanRecord, ToExport } from './span-record.js'
import { resourceOf } from './tracing.js'

const port = parentPort!
const { settings, version, ring } = workerData as { settings: OtelSettings; version: string; ring: SharedArrayBuffer | null }
/** How often the ring is read: often enough that it never fills between two reads at any load it is sized for. */
const RING_READ_MS = 20

function send(message: FromExport): void {
  port.postMessage(message)
}

const warn = (fields: Record<string, unknown>, message: string) => send({ type: 'warn', fields, message })
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

/** The SDK's batch processor and JSON exporter, fed ReadableSpans. */
function sdkExport(): (message: ToExport) => void {
  const processor = new BatchSpanProcessor(createExporter(settings, warn), settings.batch)
  return (message) => {
    if (message.type === 'spans') {
      for (const record of JSON.parse(message.json) as SpanRecord[]) processor.onEnd(readable(record))
      send({ type: 'taken', count: message.count })
      return
    }
    if (message.type !== 'shutdown') return
    processor
      .shutdown()
      .catch((error: unknown) => send({ type: 'warn', fields: { reason: String(error) }, message: 'flushing the last spans failed' }))
      .finally(() => send({ type: 'closed' }))
  }
}

/** Encoded spans, batched and posted as the SDK's batch processor would: a batch when full or every scheduled delay. */
function protobufExport(memory: SharedArrayBuffer): (message: ToExport) => void {
  const reader = new RingReader(memory)
  const { maxQueueSize, maxExportBatchSize, scheduledDelayMillis } = settings.batch
  const sender = new OtlpHttpSender(settings.url, 'application/x-protobuf', settings.headers, settings.batch.exportTimeoutMillis, version)
  const warnings = new ExportWarnings(warn, settings.url)
  const attributes = resource.attributes as Record<string, string>
  const queue: Array<{ bytes: Uint8Array; count: number }> = []
  let queued = 0
  let exporting: Promise<void> | null = null

  const exportOne = async (): Promise<void> => {
    const chunks: Uint8Array[] = []
    let count = 0
    while (queue.length > 0 && (count === 0 || count + queue[0]!.count <= maxExportBatchSize)) {
      const chunk = queue.shift()!
      chunks.push(chunk.bytes)
      count += chunk.count
    }
    queued -= count
    const failure = await sender.send(exportRequest(attributes, scope, chunks))
    if (failure !== null) warnings.failed(count, failure)
  }
  const flush = (all: boolean): Promise<void> => {
    exporting ??= (async () => {
      while (queue.length > 0 && (all || queued >= maxExportBatchSize)) await exportOne()
    })().finally(() => {
      exporting = null
    })
    return exporting
  }
  const take = (): void => {
    for (const batch of reader.read()) {
      // Past the queue size a batch is dropped, as the SDK's processor drops spans.
      if (queued + batch.count > maxQueueSize) {
        warnings.failed(batch.count, 'the export queue is full')
        continue
      }
      queue.push(batch)
      queued += batch.count
    }
    if (queued >= maxExportBatchSize && exporting === null) void flush(false)
  }
  const reading = setInterval(take, RING_READ_MS)
  const timer = setInterval(() => {
    if (exporting === null && queue.length > 0) void flush(true)
  }, Math.max(1, scheduledDelayMillis))

  return (message) => {
    if (message.type !== 'shutdown') return
    clearInterval(reading)
    clearInterval(timer)
    take()
    void (async () => {
      while (exporting !== null) await exporting
      await flush(true)
      sender.close()
      send({ type: 'closed' })
    })()
  }
}

port.on('message', ring === null ? sdkExport() : protobufExport(ring))
