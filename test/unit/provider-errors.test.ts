// Error classification, directly: what the retry layer makes of a failure (classify), what the client sees once
// every attempt failed (publicProviderError), and how Retry-After headers are read (retryAfterMs). The public
// contract comes from @robutler/kernel; classify and publicProviderError are the kernel's own, from its build.
import { isProviderError, isRobutlerError, ProviderError, retryAfterMs, RobutlerError } from '@robutler/kernel'
import { describe, expect, it } from 'vitest'
import { classify, ProviderTimeoutError, publicProviderError } from '../../kernel/dist/provider-errors.js'
import type { ModelTarget } from '../../kernel/dist/providers.js'

const target = { id: 'acme/big-1', prefix: 'acme', model: 'big-1' } as ModelTarget

describe('retryAfterMs', () => {
  const now = Date.parse('2030-01-01T00:00:00Z')

  it('reads seconds, an HTTP date, and retry-after-ms first, from Headers or a plain object', () => {
    expect(retryAfterMs(new Headers({ 'retry-after': '7' }))).toBe(7000)
    expect(retryAfterMs({ 'retry-after': '0.5' })).toBe(500)
    expect(retryAfterMs(new Headers({ 'retry-after': 'Tue, 01 Jan 2030 00:00:30 GMT' }), now)).toBe(30_000)
    expect(retryAfterMs(new Headers({ 'retry-after': 'Mon, 31 Dec 2029 23:59:00 GMT' }), now)).toBe(0)
    expect(retryAfterMs(new Headers({ 'retry-after': '7', 'retry-after-ms': '250' }))).toBe(250)
  })

  it('answers null when there is nothing to read', () => {
    expect(retryAfterMs(undefined)).toBeNull()
    expect(retryAfterMs(new Headers())).toBeNull()
    expect(retryAfterMs({ 'retry-after': 'soon' })).toBeNull()
    expect(retryAfterMs(new Headers({ 'retry-after-ms': 'x' }))).toBeNull()
  })
})

describe('ProviderError', () => {
  it('is retryable by default for rate_limit, server and connection, not for timeout and client', () => {
    const retryable = (['rate_limit', 'server', 'connection', 'timeout', 'client'] as const).map((kind) => new ProviderError(kind, 'x').retryable)
    expect(retryable).toEqual([true, true, true, false, false])
    expect(new ProviderError('server', 'x', { retryable: false }).retryable).toBe(false)
  })

  it('fromStatus: 429 rate_limit, 5xx/408/409 server with Retry-After, other statuses client without', () => {
    const headers = new Headers({ 'retry-after': '2' })
    const of = (status: number) => {
      const e = ProviderError.fromStatus(status, 'upstream said no', { headers })
      return [e.kind, e.status, e.retryable, e.retryAfterMs]
    }
    expect(of(429)).toEqual(['rate_limit', 429, true, 2000])
    expect(of(503)).toEqual(['server', 503, true, 2000])
    expect(of(408)).toEqual(['server', 408, true, 2000])
    expect(of(409)).toEqual(['server', 409, true, 2000])
    expect(of(400)).toEqual(['client', 400, false, null])
    expect(of(401)).toEqual(['client', 401, false, null])
    const cause = new Error('sdk')
    expect(ProviderError.fromStatus(500, 'm', { cause }).cause).toBe(cause)
  })

  it('is recognised by shape too (another copy of the kernel module)', () => {
    const copy = Object.assign(new Error('x'), { name: 'ProviderError', kind: 'server', retryable: true, status: 502, retryAfterMs: null })
    expect(isProviderError(copy)).toBe(true)
    expect(isProviderError(Object.assign(new Error('x'), { name: 'ProviderError', kind: 'weird', retryable: true }))).toBe(false)
    expect(isProviderError(new Error('x'))).toBe(false)
    expect(isProviderError(null)).toBe(false)
  })
})

describe('classify', () => {
  it('takes a ProviderError at its word', () => {
    expect(classify(ProviderError.fromStatus(429, 'slow down', { headers: { 'retry-after': '3' } }))).toEqual({ kind: 'rate_limit', retryable: true, status: 429, retryAfterMs: 3000 })
    expect(classify(new ProviderError('connection', 'reset'))).toEqual({ kind: 'connection', retryable: true, status: null, retryAfterMs: null })
    expect(classify(new ProviderError('server', 'event', { retryable: false }))).toEqual({ kind: 'server', retryable: false, status: null, retryAfterMs: null })
  })

  it('our own call timer is a timeout, never retried', () => {
    expect(classify(new ProviderTimeoutError(500))).toEqual({ kind: 'timeout', retryable: false, status: null, retryAfterMs: null })
  })

  it("Node's socket error codes, on the error or its cause, are connection failures", () => {
    for (const code of ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'ENOTFOUND', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT']) {
      expect(classify(Object.assign(new Error('x'), { code })).kind).toBe('connection')
    }
    expect(classify(new TypeError('fetch failed', { cause: Object.assign(new Error('x'), { code: 'ECONNRESET' }) }))).toEqual({ kind: 'connection', retryable: true, status: null, retryAfterMs: null })
  })

  it('anything else is a server failure nothing says a retry would cure, whatever it looks like', () => {
    const plain = { kind: 'server', retryable: false, status: null, retryAfterMs: null }
    expect(classify(new Error('boom'))).toEqual(plain)
    // SDK look-alikes are the provider's to classify: the kernel does not read status, headers or class names.
    expect(classify(Object.assign(new Error('x'), { status: 429, headers: { 'retry-after': '1' } }))).toEqual(plain)
    expect(classify(Object.assign(new Error('x'), { name: 'APIConnectionError' }))).toEqual(plain)
    expect(classify(Object.assign(new Error('x'), { type: 'overloaded_error' }))).toEqual(plain)
    expect(classify('a string')).toEqual(plain)
    expect(classify(undefined)).toEqual(plain)
  })
})

describe('publicProviderError', () => {
  it('maps each kind to the answer the client gets', () => {
    const timeout = publicProviderError(new ProviderTimeoutError(100), target)
    expect([timeout.code, timeout.statusCode]).toEqual(['RBT_ERR_PROVIDER_TIMEOUT', 504])
    expect(publicProviderError(new ProviderError('timeout', 'sdk timed out'), target).code).toBe('RBT_ERR_PROVIDER_TIMEOUT')

    const limited = publicProviderError(ProviderError.fromStatus(429, 'x', { headers: { 'retry-after-ms': '2500' } }), target)
    expect([limited.code, limited.statusCode, limited.retryAfter]).toEqual(['RBT_ERR_PROVIDER_RATE_LIMITED', 429, 3])
    expect(limited.message).toContain('acme/big-1')
    expect(publicProviderError(new ProviderError('rate_limit', 'x'), target).retryAfter).toBe(1)
    expect(publicProviderError(new ProviderError('rate_limit', 'x', { retryAfterMs: 10 }), target).retryAfter).toBe(1)

    const failed = publicProviderError(ProviderError.fromStatus(500, 'body with sk-live-SECRETSECRETSECRET'), target)
    expect([failed.code, failed.statusCode, failed.message]).toEqual(['RBT_ERR_PROVIDER_FAILED', 502, 'The model provider failed: acme/big-1 answered HTTP 500'])
    expect(publicProviderError(ProviderError.fromStatus(400, 'bad'), target).message).toContain('answered HTTP 400')
    expect(publicProviderError(new ProviderError('connection', 'ECONNRESET at 10.0.0.1'), target).message).toBe('The model provider failed: acme/big-1 could not be reached')
  })

  it("keeps a provider's own message, with anything key-like removed and the length capped", () => {
    const own = publicProviderError(new Error('no key: set ACME_KEY (got sk-abcdef1234567890abcdef)'), target)
    expect(own.message).toBe('The model provider failed: acme/big-1: no key: set ACME_KEY (got [redacted])')
    expect(publicProviderError(new Error('x'.repeat(1000)), target).message.length).toBeLessThan(400)
  })

  it('passes a RobutlerError through as it is', () => {
    const invalid = new RobutlerError('RBT_ERR_INVALID_REQUEST', 'acme: bad image', 400, 'invalid_request_error')
    expect(publicProviderError(invalid, target)).toBe(invalid)
    expect(isRobutlerError(publicProviderError(new Error('x'), target))).toBe(true)
  })
})
