// The `anthropic` provider: one SDK client (no SDK retries: the kernel retries), whole and streamed turns.
import Anthropic from '@anthropic-ai/sdk'
import type { KernelApi, ModelDelta, ModelResponse, Provider } from '@robutler/kernel'
import { fromAnthropicMessage, toAnthropicRequest } from '@robutler/anthropic-mapping'
import { toProviderError } from './errors.js'
import { fromAnthropicStream } from './stream.js'

export interface AnthropicConfig {
  /** The API key. The plugin falls back to ANTHROPIC_API_KEY; `createAnthropicProvider` takes it as given. */
  apiKey?: string
  /** Default https://api.anthropic.com. */
  baseURL?: string
  /** `max_tokens` when a request sets neither `max_tokens` nor `max_completion_tokens` (default 4096). */
  maxTokens?: number
  /** Milliseconds the SDK waits for response headers (default 10 minutes). */
  timeout?: number
  /** Extra headers on every request (`anthropic-beta`, a gateway's own header, …). */
  headers?: Record<string, string>
}

export const DEFAULT_MAX_TOKENS = 4096
const DEFAULT_BASE_URL = 'https://api.anthropic.com'
/** Set explicitly so the SDK never refuses a large non-streamed `max_tokens` ("streaming is required"). */
const DEFAULT_TIMEOUT_MS = 10 * 60 * 1000

export const MISSING_KEY_MESSAGE =
  "anthropic: no API key. Set ANTHROPIC_API_KEY, or apiKey in the config of '@robutler/plugin-anthropic'"

function positiveInteger(config: AnthropicConfig, key: 'maxTokens' | 'timeout', fallback: number): number {
  const value = config[key] ?? fallback
  if (!Number.isInteger(value) || value < 1) throw new TypeError(`plugin-anthropic: ${key} must be a positive integer, got ${String(value)}`)
  return value
}

type SdkLogger = NonNullable<ConstructorParameters<typeof Anthropic>[0]>['logger']

/**
 * The SDK's own log lines go to the plugin's pino logger, never to the console. Only the message is kept: the
 * extra arguments can hold request and response bodies.
 */
function sdkLogger(log: KernelApi['log']): SdkLogger {
  return {
    error: (message: string) => log.error({ source: 'anthropic-sdk' }, message),
    warn: (message: string) => log.warn({ source: 'anthropic-sdk' }, message),
    info: (message: string) => log.debug({ source: 'anthropic-sdk' }, message),
    debug: () => {},
  }
}

/**
 * Makes the provider that `plugin-anthropic` registers under the `anthropic` prefix. With no key the provider
 * still registers (the server starts) and every call fails with an error naming ANTHROPIC_API_KEY.
 * @example
 * const provider = createAnthropicProvider({ apiKey: process.env.ANTHROPIC_API_KEY, maxTokens: 1024 })
 * const answer = await provider.complete({ model: 'claude-sonnet-4-6', messages, params: {} }, { signal })
 */
export function createAnthropicProvider(config: AnthropicConfig = {}, deps: { log?: KernelApi['log']; fetch?: typeof globalThis.fetch } = {}): Provider {
  const maxTokens = positiveInteger(config, 'maxTokens', DEFAULT_MAX_TOKENS)
  const timeout = positiveInteger(config, 'timeout', DEFAULT_TIMEOUT_MS)
  // Options are explicit so the SDK takes nothing from the environment behind the config's back (its
  // ANTHROPIC_BASE_URL, ANTHROPIC_LOG). Retries are off: the kernel retries, two layers would multiply attempts.
  const client = config.apiKey
    ? new Anthropic({
        apiKey: config.apiKey,
        baseURL: config.baseURL ?? DEFAULT_BASE_URL,
        maxRetries: 0,
        timeout,
        defaultHeaders: config.headers,
        ...(deps.log ? { logger: sdkLogger(deps.log), logLevel: 'warn' as const } : {}),
        ...(deps.fetch ? { fetch: deps.fetch } : {}),
      })
    : null
  const ready = (): Anthropic => {
    if (client === null) throw new Error(MISSING_KEY_MESSAGE)
    return client
  }

  return {
    async complete(request, { signal, headers }): Promise<ModelResponse> {
      const anthropic = ready()
      try {
        return fromAnthropicMessage(await anthropic.messages.create(toAnthropicRequest(request, { maxTokens }), { signal, headers }))
      } catch (error) {
        throw toProviderError(error)
      }
    },

    // Anthropic's own count (POST /v1/messages/count_tokens) of the body `complete` would send.
    async countTokens(request, { signal }): Promise<number> {
      const anthropic = ready()
      const { max_tokens: _max, metadata: _metadata, stop_sequences: _stop, ...body } = toAnthropicRequest(request, { maxTokens })
      try {
        return (await anthropic.messages.countTokens(body, { signal })).input_tokens
      } catch (error) {
        throw toProviderError(error)
      }
    },

    async *stream(request, { signal, headers }): AsyncGenerator<ModelDelta> {
      const anthropic = ready()
      try {
        const events = await anthropic.messages.create({ ...toAnthropicRequest(request, { maxTokens }), stream: true }, { signal, headers })
        // Leaving this loop early (return or throw) ends the SDK's iterator, which aborts the upstream request.
        yield* fromAnthropicStream(events, signal)
      } catch (error) {
        throw toProviderError(error)
      }
    },
  }
}
