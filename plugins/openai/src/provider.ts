// The provider one prefix serves: chat completions through its SDK client, whole or streamed.
import type { ModelDelta, ModelRequest, ModelResponse, Provider } from '@robutler/kernel'
import { APIUserAbortError, type OpenAI } from 'openai'
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
        // Leaving the loop early (the kernel stopped reading) makes the SDK's stream abort its own request.
        const chunks = await completions.create(body as unknown as ChatCompletionCreateParamsStreaming, { signal, headers })
        for await (const chunk of chunks) {
          const delta = toDelta(chunk)
          if (delta !== null) yield delta
        }
        // The SDK's stream ends quietly when its request is aborted; a cut-off turn must not pass for a whole one.
        if (signal.aborted) throw new APIUserAbortError()
      } catch (error) {
        throw toProviderError(error)
      }
    },
  }
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
