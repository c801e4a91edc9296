// The request thread's side of the export thread. OTLP protobuf (the default): each span is encoded as it ends into
// the batch's buffer, and the batch is copied into a shared ring (ring.ts) every BATCH spans and every tick: no
// postMessage, no allocation per batch. A batch that finds the ring full is dropped, counted (the export thread is
// too far behind). OTLP JSON: the spans go as records in one JSON text per batch, posted.
import { Worker } from 'node:worker_threads'
import type { Logger } from 'pino'
import type { OtelSettings } from './config.js'
import { hexWord } from './ids.js'
import { ProtoWriter, SpanEncoder } from './otlp-proto.js'
import { ringMemory, RingWriter } from './ring.js'
import type { FromExport, Span, SpanRecord, ToExport, TraceWords } from './span-record.js'

const BATCH = 256
const CLOSE_TIMEOUT_MS = 10_000
const WARN_EVERY_MS = 60_000
/** Ring bytes per span of the queue size: a span with the usual attributes takes 300–400. */
const RING_BYTES_PER_SPAN = 1024
const MIN_RING_BYTES = 64 * 1024
const MAX_RING_BYTES = 64 * 1024 * 1024
/** The most a span's recorded content can take: prompts, system instructions, completion, tool arguments and result. */
const CONTENT_ATTRIBUTES = 5

/** A span as OTLP JSON's path sends it: ids as hex, attributes as an object. */
function recordOf(trace: TraceWords, span: Span, traceState: string | undefined): SpanRecord {
  const attributes: SpanRecord['attributes'] = {}
  for (let i = 0; i < span.attributes.length; i += 2) attributes[span.attributes[i] as string] = span.attributes[i + 1]
  const record: SpanRecord = {
    traceId: hexWord(trace[0]) + hexWord(trace[1]) + hexWord(trace[2]) + hexWord(trace[3]),
    spanId: hexWord(span.hi) + hexWord(span.lo),
    parentSpanId: span.parentHi === 0 && span.parentLo === 0 ? '' : hexWord(span.parentHi) + hexWord(span.parentLo),
    name: span.name,
    kind: span.kind,
    start: span.start,
    end: span.end,
    attributes,
    status: span.status,
  }
  if (span.message !== undefined) record.message = span.message
  if (traceState !== undefined) record.traceState = traceState
  return record
}

export class ExportThread {
  readonly #worker: Worker
  readonly #log: Logger
  readonly #timer: NodeJS.Timeout
  #dropped = 0
  #lastWarning = -Infinity
  /** Protobuf: the batch's encoded spans, and the ring they go into. */
  readonly #encoded: ProtoWriter | null
  readonly #encoder = new SpanEncoder()
  readonly #ring: RingWriter | null
  #maxBatchBytes = Infinity
  /** JSON: the batch's records, and the spans posted and not yet taken (past the queue size, new ones are dropped). */
  #batch: SpanRecord[] = []
  #inFlight = 0
  readonly #maxInFlight: number
  #count = 0
  readonly #batchSize: number
  #closed: Promise<void> | null = null

  constructor(settings: OtelSettings, version: string, log: Logger) {
    this.#log = log
    this.#maxInFlight = settings.batch.maxQueueSize
    // Never more in one hand-over than in one export.
    this.#batchSize = Math.max(1, Math.min(BATCH, settings.batch.maxExportBatchSize))
    let ring: SharedArrayBuffer | null = null
    if (settings.protocol === 'http/protobuf') {
      // Room for the queue's spans, and for a few of the largest a span can be (all its content recorded).
      const largestSpan = settings.captureContent ? CONTENT_ATTRIBUTES * settings.maxContentBytes + RING_BYTES_PER_SPAN : RING_BYTES_PER_SPAN
      const bytes = Math.min(MAX_RING_BYTES, Math.max(MIN_RING_BYTES, settings.batch.maxQueueSize * RING_BYTES_PER_SPAN, 8 * largestSpan))
      ring = ringMemory(bytes)
      // A batch goes over when it would fill a quarter of the ring, whatever its count.
      this.#maxBatchBytes = bytes / 4
      this.#encoded = new ProtoWriter()
      this.#ring = new RingWriter(ring)
    } else {
      this.#encoded = null
      this.#ring = null
    }
    this.#worker = new Worker(new URL('./export-worker.js', import.meta.url), { workerData: { settings, version, ring }, name: 'robutler-otel-export' })
    this.#worker.unref()
    this.#worker.on('message', (message: FromExport) => this.#heard(message))
    this.#worker.on('error', (error) => log.error({ err: error }, 'the trace export thread failed: no more spans are exported'))
    this.#timer = setInterval(() => this.#post(), Math.min(100, Math.max(10, settings.batch.scheduledDelayMillis))).unref()
  }

  /** Takes one finished span (the request path: an encoding, and a hand-over every BATCH spans). */
  add(trace: TraceWords, span: Span, traceState: string | undefined): void {
    if (this.#encoded !== null) this.#encoder.write(this.#encoded, trace, span, traceState)
    else if (this.#inFlight + this.#count < this.#maxInFlight) this.#batch.push(recordOf(trace, span, traceState))
    else {
      this.#dropped++
      return
    }
    if (++this.#count >= this.#batchSize || (this.#encoded !== null && this.#encoded.pos >= this.#maxBatchBytes)) this.#post()
  }

  #post(): void {
    if (this.#dropped > 0 && Date.now() - this.#lastWarning >= WARN_EVERY_MS) {
      this.#lastWarning = Date.now()
      this.#log.warn({ droppedSpans: this.#dropped }, 'the trace export thread is behind: spans dropped (next warning in a minute at the earliest)')
      this.#dropped = 0
    }
    const count = this.#count
    if (count === 0) return
    this.#count = 0
    if (this.#encoded !== null) {
      if (!this.#ring!.write(this.#encoded.buf.subarray(0, this.#encoded.pos), count)) this.#dropped += count
      this.#encoded.pos = 0
      return
    }
    this.#inFlight += count
    const spans = this.#batch
    this.#batch = []
    // As JSON text: a structured clone of the records cost the request thread several times more.
    this.#worker.postMessage({ type: 'spans', json: JSON.stringify(spans), count } satisfies ToExport)
  }

  #heard(message: FromExport): void {
    if (message.type === 'taken') this.#inFlight -= message.count
    else if (message.type === 'warn') this.#log.warn(message.fields, message.message)
  }

  /** Hands over what is gathered, lets the export thread flush its last batch, and ends it. */
  close(): Promise<void> {
    this.#closed ??= new Promise<void>((resolve) => {
      clearInterval(this.#timer)
      this.#post()
      const done = () => {
        clearTimeout(timeout)
        void this.#worker.terminate().finally(resolve)
      }
      const timeout = setTimeout(done, CLOSE_TIMEOUT_MS)
      this.#worker.on('message', (message: FromExport) => {
        if (message.type === 'closed') done()
      })
      this.#worker.postMessage({ type: 'shutdown' } satisfies ToExport)
    })
    return this.#closed
  }
}
