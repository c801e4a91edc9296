// A `fetch` for provider SDKs (openai, @anthropic-ai/sdk take one) over node:http(s) keep-alive sockets.
// Node's own fetch (undici) builds WHATWG Request and Headers objects and its stream plumbing for every call:
// passing 50 held-open streams through the openai SDK cost ~23% more CPU per stream with it, and its time to
// first byte p99 was ~1.7× this one's (bench: sdk-proxy with and without it). What the SDKs send —
// a JSON body, headers, an AbortSignal — goes over node:http here; anything else (a stream or form body, a
// Request object) goes to the global fetch unchanged.
import http from 'node:http'
import https from 'node:https'
import { Readable } from 'node:stream'

/** Where a Response of providerFetch keeps its node body (see nodeBody). */
const NODE_BODY = Symbol('robutler.providerFetch.nodeBody')
/** The node body until someone takes it: nodeBody, or the web body's first read. */
interface BodyClaim {
  res: http.IncomingMessage | null
}
type WithNodeBody = Response & { [NODE_BODY]?: BodyClaim }

/**
 * The node stream under a Response that createProviderFetch answered, for a reader that parses it itself (a lean
 * SSE reader: no web stream, no async iterator hop per piece); null for any other Response, or when its web body
 * was read already. Taking it leaves the web body empty for anyone else.
 * @example
 * const res = nodeBody(await client.chat.completions.create(body, { signal }).asResponse())
 * if (res) for await (const piece of res) parse(piece)
 */
export function nodeBody(response: Response): http.IncomingMessage | null {
  const claim = (response as WithNodeBody)[NODE_BODY]
  if (!claim) return null
  const res = claim.res
  claim.res = null
  return res
}

/**
 * A web stream over `res` that wires itself to it only when first read (highWaterMark 0: nothing is pulled before),
 * so that nodeBody can still hand the node stream over until then.
 */
function lazyWebBody(res: http.IncomingMessage, claim: BodyClaim): ReadableStream<Uint8Array> {
  let reader: ReadableStreamDefaultReader<Uint8Array> | null = null
  const open = () => {
    claim.res = null
    return (reader ??= (Readable.toWeb(res) as ReadableStream<Uint8Array>).getReader())
  }
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const { done, value } = await open().read()
        if (done) controller.close()
        else controller.enqueue(value)
      },
      cancel(reason) {
        return open().cancel(reason)
      },
    },
    { highWaterMark: 0 },
  )
}

export interface ProviderFetch {
  /** Has the signature of the global fetch. */
  fetch: typeof globalThis.fetch
  /** Destroys its sockets: call it when the plugin closes (after the kernel's drain). */
  close(): void
}

/** Statuses whose response has no body, whatever the upstream sends. */
const NULL_BODY = new Set([101, 204, 205, 304])

function abortError(): DOMException {
  return new DOMException('This operation was aborted', 'AbortError')
}

function plainBody(body: unknown): body is string | Uint8Array | null | undefined {
  return body === undefined || body === null || typeof body === 'string' || body instanceof Uint8Array
}

/**
 * One keep-alive socket pool per call of this function (per plugin), for http: and https: URLs.
 * @example
 * const upstream = createProviderFetch()
 * const client = new OpenAI({ apiKey, fetch: upstream.fetch, maxRetries: 0 })
 * kernel.onClose(() => upstream.close())
 */
export function createProviderFetch(): ProviderFetch {
  const agents = { 'http:': new http.Agent({ keepAlive: true }), 'https:': new https.Agent({ keepAlive: true }) }

  function providerFetch(input: string | URL | Request, init: RequestInit = {}): Promise<Response> {
    const url = typeof input === 'string' ? new URL(input) : input instanceof URL ? input : null
    const agent = url ? agents[url.protocol as keyof typeof agents] : undefined
    if (!url || !agent || !plainBody(init.body)) return globalThis.fetch(input, init)
    const headers: Record<string, string> = {}
    // The SDKs pass a Headers already: read it as is rather than copying it into another one first.
    const given = init.headers instanceof Headers ? init.headers : new Headers(init.headers)
    given.forEach((value, name) => {
      headers[name] = value
    })
    const method = init.method ?? 'GET'
    const request = url.protocol === 'https:' ? https.request : http.request
    const signal = init.signal ?? null
    if (signal?.aborted) return Promise.reject(abortError())
    return new Promise((resolve, reject) => {
      let response: http.IncomingMessage | null = null
      // As fetch does: an abort is an AbortError, before the answer (the promise) and during its body (the
      // stream), so an SDK tells it from a failure. Node's own signal option would end the body with 'aborted'.
      const onAbort = () => {
        const error = abortError()
        if (response) response.destroy(error)
        else reject(error)
        req.destroy(error)
      }
      const req = request(url, { method, headers, agent }, (res) => {
        response = res
        res.once('close', () => signal?.removeEventListener('abort', onAbort))
        const status = res.statusCode ?? 502
        const answer = new Headers()
        const raw = res.rawHeaders
        for (let i = 0; i < raw.length; i += 2) answer.append(raw[i]!, raw[i + 1]!)
        const empty = NULL_BODY.has(status) || method === 'HEAD'
        if (empty) {
          res.resume()
          resolve(new Response(null, { status, statusText: res.statusMessage, headers: answer }))
          return
        }
        // The Response and its web body share the claim: whichever is read first takes the node stream.
        const claim: BodyClaim = { res }
        const whole = new Response(lazyWebBody(res, claim), { status, statusText: res.statusMessage, headers: answer }) as WithNodeBody
        whole[NODE_BODY] = claim
        resolve(whole)
      })
      signal?.addEventListener('abort', onAbort, { once: true })
      req.on('error', (error) => {
        signal?.removeEventListener('abort', onAbort)
        reject(error)
      })
      req.end(init.body ?? undefined)
    })
  }

  return {
    fetch: providerFetch as typeof globalThis.fetch,
    close() {
      agents['http:'].destroy()
      agents['https:'].destroy()
    },
  }
}
