// The provider one prefix serves: chat completions through its SDK client, whole or streamed.
import { nodeBody, type ModelDelta, type ModelRequest, type ModelResponse, type Provider } from '@robutler/kernel'
import { APIError, APIUserAbortError, type OpenAI } from 'openai'
import type { ChatCompletionCreateParamsNonStreaming, ChatCompletionCreateParamsStreaming } from 'openai/resources/chat/completions'
import { toProviderError } from './errors.js'
import { toDelta, toResponse } from './mapping.js'

/**
 * The wire body: every sampling field and unknown extra parameter passes through unchanged; the kernel's own
 * fields (model, messages, tools) are set after them so a parameter can never override them.
 */
function bodyOf(request: ModelRequest): Record<string, unknown> {
  return {
    ...request.params,
    model: request.model,
    messages: request.messages,
    tools: request.tools && request.tools.length > 0 ? request.tools : undefined,
  }
}

/**
 * A provider over one SDK client. SDK failures leave as the kernel's ProviderError (toProviderError), for its
 * retry layer. The request's signal goes to the SDK, which aborts the fetch and so closes the upstream
 * connection.
 * @example
 * kernel.providers.register('openai', createOpenAIProvider(new OpenAI({ apiKey, maxRetries: 0 })))
 */
export function createOpenAIProvider(client: OpenAI): Provider {
  const completions = client.chat.completions
  return {
    async complete(request, { signal, headers }): Promise<ModelResponse> {
      const body = bodyOf(request)
      body.stream = false
      try {
        return toResponse(await completions.create(body as unknown as ChatCompletionCreateParamsNonStreaming, { signal, headers }))
      } catch (error) {
        throw toProviderError(error)
      }
    },
    async *stream(request, { signal, headers }): AsyncGenerator<ModelDelta> {
      const body = bodyOf(request)
      body.stream = true
      body.stream_options = { include_usage: true }
      try {
        // The SDK makes the request (and its errors); the body is read here, off the node stream under it when the
        // client's fetch is the kernel's (no web stream, no SDK parser, no iterator hops per chunk).
        const pending = completions.create(body as unknown as ChatCompletionCreateParamsStreaming, { signal, headers })
        const response = await pending.asResponse()
        const res = nodeBody(response)
        if (res === null) {
          // Leaving the loop early (the kernel stopped reading) makes the SDK's stream abort its own request.
          for await (const chunk of await pending) {
            const delta = toDelta(chunk)
            if (delta !== null) yield delta
          }
        } else {
          // Leaving the loop early destroys the node stream, and so the upstream connection.
          yield* readSse(res, response.headers)
        }
        // The SDK's stream ends quietly when its request is aborted; a cut-off turn must not pass for a whole one.
        if (signal.aborted) throw new APIUserAbortError()
      } catch (error) {
        throw toProviderError(error)
      }
    },
  }
}

/**
 * The deltas of a Chat Completions event stream read straight off the node stream: `data:` lines parsed as JSON
 * chunks up to `[DONE]`, an `error` object thrown as the SDK's APIError (as its own stream does). An abort ends the
 * node stream with an AbortError, which ends the reading quietly, as the SDK's stream does (the caller checks the
 * signal).
 */
async function* readSse(res: AsyncIterable<Buffer>, headers: Headers): AsyncGenerator<ModelDelta> {
  const decoder = new TextDecoder()
  let pending = ''
  // The event's data so far: its `data:` lines joined by newlines, dispatched at the blank line that ends it.
  let data: string | null = null
  // After [DONE] the body is read to its end all the same (nothing follows it but the end of the body): leaving
  // it unread would destroy the socket rather than hand it back to the keep-alive pool.
  let done = false
  try {
    for await (const piece of res) {
      if (done) continue
      pending += decoder.decode(piece, { stream: true })
      let start = 0
      let end: number
      while ((end = pending.indexOf('\n', start)) >= 0) {
        const cut = end > start && pending.charCodeAt(end - 1) === 13 ? end - 1 : end
        const line = pending.slice(start, cut)
        start = end + 1
        if (line.length === 0) {
          if (data === null) continue
          if (data.startsWith('[DONE]')) {
            done = true
            break
          }
          const delta = deltaOf(data, headers)
          data = null
          if (delta !== null) yield delta
        } else if (line.startsWith('data:')) {
          const value = line.charCodeAt(5) === 32 ? line.slice(6) : line.slice(5)
          data = data === null ? value : `${data}\n${value}`
        }
      }
      pending = start === 0 ? pending : pending.slice(start)
    }
    // A last event without its blank line.
    if (!done && data !== null && !data.startsWith('[DONE]')) {
      const delta = deltaOf(data, headers)
      if (delta !== null) yield delta
    }
  } catch (error) {
    if ((error as Error)?.name === 'AbortError') return
    throw error
  }
}

function deltaOf(data: string, headers: Headers): ModelDelta | null {
  const chunk = JSON.parse(data)
  if (chunk?.error) throw new APIError(undefined, chunk.error, undefined, headers)
  return toDelta(chunk)
}

/** The `openai` prefix without an API key: registered so agents load, failing each call with what to set. */
export function createKeylessProvider(): Provider {
  const fail = () => new Error("plugin-openai has no API key for the 'openai' models: set OPENAI_API_KEY or the plugin's apiKey config")
  return {
    async complete(): Promise<ModelResponse> {
      throw fail()
    },
    async *stream(): AsyncGenerator<ModelDelta> {
      throw fail()
    },
  }
}
