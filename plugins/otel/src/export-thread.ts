// The request thread's side of the export thread: finished spans are gathered and posted in batches, and dropped,
// counted, when the export thread is too far behind. OTLP protobuf: each span is encoded as it ends into the batch's
// buffer, which is transferred (not copied) to the export thread. OTLP JSON: the records go as one JSON text.
import { Worker } from 'node:worker_threads'
import type { Logger } from 'pino'
import type { OtelSettings } from './config.js'
import { ProtoWriter, writeSpan } from './otlp-proto.js'
import type { FromExport, SpanRecord, ToExport } from './span-record.js'

const BATCH = 256
const CLOSE_TIMEOUT_MS = 10_000
const WARN_EVERY_MS = 60_000

export class ExportThread {
  readonly #worker: Worker
  readonly #log: Logger
  readonly #timer: NodeJS.Timeout
  /** Spans posted and not yet taken by the export thread: past the queue size, new ones are dropped. */
  #inFlight = 0
  readonly #maxInFlight: number
  #dropped = 0
  #lastWarning = -Infinity
  #batch: SpanRecord[] = []
  /** Protobuf: the batch's encoded spans and how many. */
  readonly #encoded: ProtoWriter | null
  #count = 0
  readonly #batchSize: number
  #closed: Promise<void> | null = null

  constructor(settings: OtelSettings, version: string, log: Logger) {
    this.#log = log
    this.#maxInFlight = settings.batch.maxQueueSize
    this.#encoded = settings.protocol === 'http/protobuf' ? new ProtoWriter() : null
    // Never more in one hand-over than in one export.
    this.#batchSize = Math.max(1, Math.min(BATCH, settings.batch.maxExportBatchSize))
    this.#worker = new Worker(new URL('./export-worker.js', import.meta.url), { workerData: { settings, version }, name: 'robutler-otel-export' })
    this.#worker.unref()
    this.#worker.on('message', (message: FromExport) => this.#heard(message))
    this.#worker.on('error', (error) => log.error({ err: error }, 'the trace export thread failed: no more spans are exported'))
    this.#timer = setInterval(() => this.#post(), Math.min(100, Math.max(10, settings.batch.scheduledDelayMillis))).unref()
  }

  /** Takes one finished span (the request path: a push, and a post every BATCH spans). */
  add(span: SpanRecord): void {
    if (this.#inFlight + this.#count >= this.#maxInFlight) {
      this.#dropped++
      return
    }
    if (this.#encoded !== null) writeSpan(this.#encoded, span)
    else this.#batch.push(span)
    if (++this.#count >= this.#batchSize) this.#post()
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
    this.#inFlight += count
    if (this.#encoded !== null) {
      const bytes = this.#encoded.take()
      this.#worker.postMessage({ type: 'encoded', bytes, count } satisfies ToExport, [bytes.buffer as ArrayBuffer])
      return
    }
    const spans = this.#batch
    this.#batch = []
    // As JSON text: a structured clone of the records cost the request thread several times more.
    this.#worker.postMessage({ type: 'spans', json: JSON.stringify(spans), count } satisfies ToExport)
  }

  #heard(message: FromExport): void {
    if (message.type === 'taken') this.#inFlight -= message.count
    else if (message.type === 'warn') this.#log.warn(message.fields, message.message)
  }

  /** Posts what is gathered, lets the export thread flush its last batch, and ends it. */
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
