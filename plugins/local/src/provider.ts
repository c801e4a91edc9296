// The `local` provider: deterministic answers from LOCAL_MODELS, whole or streamed, with optional delays.
import type { ModelDelta, ModelRequest, ModelResponse, Provider, Usage } from '@robutler/kernel'
import { findModel, type Turn } from './models.js'
import { pause } from './pause.js'
import { countPromptWords, wordChunks } from './text.js'

export interface LocalConfig {
  /** Milliseconds to wait before each streamed delta (default 0). */
  chunkDelayMs?: number
  /** Milliseconds to wait before an answer starts, whole or streamed (default 0). */
  latencyMs?: number
}

function delayOf(config: LocalConfig, key: keyof LocalConfig): number {
  const value = config[key] ?? 0
  if (!Number.isInteger(value) || value < 0) throw new TypeError(`plugin-local: ${key} must be an integer ≥ 0, got ${String(value)}`)
  return value
}

function usageOf(request: ModelRequest, turn: Turn): Usage {
  const prompt = countPromptWords(request.messages)
  return { prompt_tokens: prompt, completion_tokens: turn.completionTokens, total_tokens: prompt + turn.completionTokens }
}

function* deltasOf(turn: Turn, usage: Usage): Generator<ModelDelta> {
  if (turn.toolCalls !== null) {
    for (let index = 0; index < turn.toolCalls.length; index++) {
      const { id, function: fn } = turn.toolCalls[index]
      yield { tool_calls: [{ index, id, type: 'function', function: { name: fn.name, arguments: '' } }] }
      // Two fragments, so clients and the runtime must concatenate them.
      const half = Math.ceil(fn.arguments.length / 2)
      yield { tool_calls: [{ index, function: { arguments: fn.arguments.slice(0, half) } }] }
      if (half < fn.arguments.length) yield { tool_calls: [{ index, function: { arguments: fn.arguments.slice(half) } }] }
    }
  } else if (turn.content !== null) {
    for (const chunk of wordChunks(turn.content)) yield { content: chunk }
  }
  const end: ModelDelta = { finish_reason: turn.finishReason, usage }
  if (turn.stopSequence !== undefined) end.stop_sequence = turn.stopSequence
  yield end
}

/**
 * Makes the provider that `plugin-local` registers under the `local` prefix.
 * @example
 * const provider = createLocalProvider({ chunkDelayMs: 20 })
 * const request = { model: 'echo', messages: [{ role: 'user', content: 'hi there' }], params: {} }
 * for await (const delta of provider.stream(request, { signal })) process.stdout.write(delta.content ?? '')
 */
export function createLocalProvider(config: LocalConfig = {}): Provider {
  const chunkDelayMs = delayOf(config, 'chunkDelayMs')
  const latencyMs = delayOf(config, 'latencyMs')

  return {
    // The signal is read only when there is a delay to cut short: the kernel creates it on first read, and the
    // zero-delay path is the benchmark's hot path (the kernel itself stops reading a stream whose client left).
    async complete(request, options): Promise<ModelResponse> {
      const model = findModel(request.model)
      if (latencyMs > 0) await pause(latencyMs, options.signal)
      const turn = model(request)
      const message: ModelResponse['message'] = { role: 'assistant', content: turn.content }
      if (turn.toolCalls !== null) message.tool_calls = turn.toolCalls
      const response: ModelResponse = { message, finish_reason: turn.finishReason, usage: usageOf(request, turn) }
      if (turn.stopSequence !== undefined) response.stop_sequence = turn.stopSequence
      return response
    },

    async *stream(request, options): AsyncGenerator<ModelDelta> {
      const model = findModel(request.model)
      if (latencyMs > 0) await pause(latencyMs, options.signal)
      const turn = model(request)
      for (const delta of deltasOf(turn, usageOf(request, turn))) {
        if (chunkDelayMs > 0) await pause(chunkDelayMs, options.signal)
        yield delta
      }
    },
  }
}
