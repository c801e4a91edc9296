// http_requests_in_progress: each route gets an onRequest hook (made once, when the route is declared) that
// counts the request in and counts it out when its response closes — finished or cut off, so a client that
// leaves mid-stream does not leave the gauge up. A response that closes unfinished is also counted in
// http_requests_aborted_total: the kernel's request:end only comes for finished responses. The counts are plain
// numbers, copied into the metrics at scrape.
import type { ServerResponse } from 'node:http'
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction, onRequestHookHandler, RouteOptions } from 'fastify'
import type { Counter, Gauge } from 'prom-client'
import { methodLabel } from './labels.js'

interface Counted {
  labels: { method: string; route: string }
  count: number
  aborted: number
}

const kCounted = Symbol('robutler.prometheus.inProgress')

type TrackedResponse = ServerResponse & { [kCounted]?: Counted }

function countOut(this: TrackedResponse): void {
  const counted = this[kCounted]
  if (counted === undefined) return
  counted.count--
  if (!this.writableFinished) counted.aborted++
  this[kCounted] = undefined
}

export class InProgress {
  /** Every series, by `route method-label`. */
  readonly #series = new Map<string, Counted>()

  /** The hook for one route: counts its requests by method. */
  hookFor(route: string): onRequestHookHandler {
    const byMethod = new Map<string, Counted>()
    const series = this.#series
    return function countInProgress(request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) {
      const raw = reply.raw as TrackedResponse
      // A HEAD route copied from its GET route may carry this hook twice: count the request once.
      if (raw[kCounted] !== undefined) return done()
      let counted = byMethod.get(request.method)
      if (counted === undefined) {
        const method = methodLabel(request.method)
        const key = `${route} ${method}`
        counted = series.get(key)
        if (counted === undefined) {
          counted = { labels: { method, route }, count: 0, aborted: 0 }
          series.set(key, counted)
        }
        byMethod.set(request.method, counted)
      }
      counted.count++
      raw[kCounted] = counted
      raw.on('close', countOut)
      done()
    }
  }

  /** Puts the hook first on a route being declared, so requests a later hook refuses are counted too. */
  attach(route: RouteOptions, label: string): void {
    const hook = this.hookFor(label)
    const current = route.onRequest
    if (Array.isArray(current)) route.onRequest = [hook, ...current]
    else if (typeof current === 'function') route.onRequest = [hook, current]
    else route.onRequest = [hook]
  }

  /** Copies the in-flight counts into the gauge (its collect()). */
  writeInProgress(gauge: Gauge<'method' | 'route'>): void {
    gauge.reset()
    for (const counted of this.#series.values()) gauge.set(counted.labels, counted.count)
  }

  /** Copies the cut-off counts into the counter (its collect()); routes with none have no series. */
  writeAborted(counter: Counter<'method' | 'route'>): void {
    counter.reset()
    for (const counted of this.#series.values()) if (counted.aborted > 0) counter.inc(counted.labels, counted.aborted)
  }
}
