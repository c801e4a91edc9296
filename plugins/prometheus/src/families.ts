// Counters and histograms fed on the request path. Each label tuple is one plain object holding numbers: an
// increment is an addition, an observation a short bucket scan, with no label hashing or checks per call (the
// recorder looks the series up once per request by its key). prom-client reads them at scrape time through
// get(), the same duck-typed shape its own AggregatorRegistry registers, so text output, getMetricsAsJSON()
// and cluster aggregation treat them like its own metrics.
import type { Metric, Registry } from 'prom-client'

export type Labels<L extends string> = Readonly<Record<L, string>>

export class CounterSeries<L extends string> {
  value = 0
  constructor(readonly labels: Labels<L>) {}

  inc(by = 1): void {
    this.value += by
  }
}

export class HistogramSeries<L extends string> {
  /** Observations per bucket (not cumulative); the last slot counts those above every bound. */
  readonly counts: number[]
  sum = 0
  count = 0

  constructor(
    readonly labels: Labels<L>,
    readonly bounds: readonly number[],
  ) {
    this.counts = new Array<number>(bounds.length + 1).fill(0)
  }

  observe(value: number): void {
    const bounds = this.bounds
    let i = 0
    while (i < bounds.length && value > bounds[i]!) i++
    this.counts[i]!++
    this.sum += value
    this.count++
  }
}

interface Value {
  labels: Record<string, string | number>
  value: number
  metricName: string
}

/** What prom-client's registry reads from a metric's get(). */
interface Values {
  name: string
  help: string
  type: 'counter' | 'histogram'
  aggregator: 'sum'
  values: Value[]
}

abstract class Family<L extends string, S extends { labels: Labels<L> }> {
  readonly aggregator = 'sum' as const
  protected series: S[] = []

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly L[],
    registry: Registry,
  ) {
    registry.registerMetric(this as unknown as Metric)
  }

  /** The series of one label tuple, new; the caller keeps it (two calls make two series). */
  abstract add(labels: Labels<L>): S

  protected keep(series: S): S {
    this.series.push(series)
    return series
  }

  reset(): void {
    this.series = []
  }

  abstract get(): Promise<Values>
}

export class CounterFamily<L extends string> extends Family<L, CounterSeries<L>> {
  readonly type = 'counter' as const

  add(labels: Labels<L>): CounterSeries<L> {
    return this.keep(new CounterSeries(labels))
  }

  async get(): Promise<Values> {
    const values = this.series.map((s) => ({ labels: s.labels, value: s.value, metricName: this.name }))
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values }
  }
}

export class HistogramFamily<L extends string> extends Family<L, HistogramSeries<L>> {
  readonly type = 'histogram' as const
  readonly #bounds: readonly number[]

  constructor(name: string, help: string, labelNames: readonly L[], bounds: readonly number[], registry: Registry) {
    super(name, help, labelNames, registry)
    this.#bounds = Object.freeze([...bounds].sort((a, b) => a - b))
  }

  add(labels: Labels<L>): HistogramSeries<L> {
    return this.keep(new HistogramSeries(labels, this.#bounds))
  }

  async get(): Promise<Values> {
    const bucket = `${this.name}_bucket`
    const values: Value[] = []
    for (const s of this.series) {
      let cumulative = 0
      for (let i = 0; i < this.#bounds.length; i++) {
        cumulative += s.counts[i]!
        values.push({ labels: { ...s.labels, le: this.#bounds[i]! }, value: cumulative, metricName: bucket })
      }
      values.push({ labels: { ...s.labels, le: '+Inf' }, value: s.count, metricName: bucket })
      values.push({ labels: s.labels, value: s.sum, metricName: `${this.name}_sum` })
      values.push({ labels: s.labels, value: s.count, metricName: `${this.name}_count` })
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values }
  }
}
