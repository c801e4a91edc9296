// Posting one OTLP/HTTP export, on one keep-alive agent: retried as the SDK's exporter retries (429, 502, 503, 504
// and network errors, backing off from 1 s by 1.5× up to 5 s with jitter, Retry-After honoured) while the export
// timeout lasts.
import http from 'node:http'
import https from 'node:https'

const RETRYABLE = new Set([429, 502, 503, 504])
const MAX_ATTEMPTS = 5
const INITIAL_BACKOFF_MS = 1000
const MAX_BACKOFF_MS = 5000
const MAX_RESPONSE_BYTES = 4 * 1024 * 1024

type Outcome = { ok: true } | { ok: false; retry: boolean; retryAfterMs?: number; reason: string }

export class OtlpHttpSender {
  readonly #url: URL
  readonly #headers: Record<string, string>
  readonly #timeoutMs: number
  readonly #agent: http.Agent
  readonly #request: typeof http.request

  constructor(url: string, contentType: string, headers: Record<string, string>, timeoutMs: number, version: string) {
    this.#url = new URL(url)
    const secure = this.#url.protocol === 'https:'
    this.#request = secure ? https.request : http.request
    this.#agent = secure ? new https.Agent({ keepAlive: true, maxSockets: 2 }) : new http.Agent({ keepAlive: true, maxSockets: 2 })
    this.#headers = { 'user-agent': `robutler-plugin-otel/${version}`, ...headers, 'content-type': contentType }
    this.#timeoutMs = timeoutMs
  }

  /** Resolves with null once the collector took the body, or with why it did not (never rejects). */
  async send(body: Uint8Array): Promise<string | null> {
    const deadline = Date.now() + this.#timeoutMs
    let backoff = INITIAL_BACKOFF_MS
    for (let attempt = 1; ; attempt++) {
      const outcome = await this.#post(body, deadline - Date.now())
      if (outcome.ok) return null
      if (!outcome.retry || attempt >= MAX_ATTEMPTS) return outcome.reason
      const wait = outcome.retryAfterMs ?? Math.min(backoff, MAX_BACKOFF_MS) * (0.8 + 0.4 * Math.random())
      backoff *= 1.5
      if (Date.now() + wait >= deadline) return outcome.reason
      await new Promise((resolve) => setTimeout(resolve, wait))
    }
  }

  #post(body: Uint8Array, timeoutMs: number): Promise<Outcome> {
    return new Promise<Outcome>((resolve) => {
      let settled = false
      const settle = (outcome: Outcome) => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        resolve(outcome)
      }
      const req = this.#request(this.#url, { method: 'POST', agent: this.#agent, headers: { ...this.#headers, 'content-length': String(body.length) } }, (res) => {
        let bytes = 0
        res.on('data', (chunk: Buffer) => {
          bytes += chunk.length
          if (bytes > MAX_RESPONSE_BYTES) res.destroy()
        })
        res.on('error', () => {})
        res.on('end', () => {
          const status = res.statusCode ?? 0
          if (status >= 200 && status < 300) return settle({ ok: true })
          const after = Number(res.headers['retry-after'])
          settle({ ok: false, retry: RETRYABLE.has(status), retryAfterMs: Number.isFinite(after) && after >= 0 ? after * 1000 : undefined, reason: `the collector answered ${status}` })
        })
      })
      const timer = setTimeout(() => {
        req.destroy()
        settle({ ok: false, retry: false, reason: `no answer within ${this.#timeoutMs} ms` })
      }, Math.max(1, timeoutMs))
      req.on('error', (error: NodeJS.ErrnoException) => settle({ ok: false, retry: true, reason: error.code ?? error.message }))
      req.end(body)
    })
  }

  close(): void {
    this.#agent.destroy()
  }
}
