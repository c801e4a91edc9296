// Why an answer ended: Anthropic's stop_reason ↔ OpenAI's finish_reason, both ways in one table each.
import type { FinishReason } from '@robutler/kernel'

export type StopReason = 'end_turn' | 'max_tokens' | 'stop_sequence' | 'tool_use' | 'pause_turn' | 'refusal' | 'model_context_window_exceeded'

const FINISH: Readonly<Record<string, FinishReason>> = {
  end_turn: 'stop',
  stop_sequence: 'stop',
  tool_use: 'tool_calls',
  max_tokens: 'length',
  model_context_window_exceeded: 'length',
  refusal: 'content_filter',
  // Only server tools pause a turn; the provider sends none, so a pause is as final as it gets.
  pause_turn: 'stop',
}

const STOP: Readonly<Record<FinishReason, StopReason>> = {
  stop: 'end_turn',
  length: 'max_tokens',
  tool_calls: 'tool_use',
  function_call: 'tool_use',
  content_filter: 'refusal',
}

/**
 * OpenAI's finish_reason for an Anthropic stop_reason; an unknown or missing reason is `stop`.
 * @example
 * mapStopReason('tool_use') // 'tool_calls'
 */
export function mapStopReason(reason: string | null | undefined): FinishReason {
  return (reason != null && FINISH[reason]) || 'stop'
}

/**
 * Anthropic's stop_reason and stop_sequence for how a run ended: `stop` is `stop_sequence` when the provider said
 * which sequence stopped it, else `end_turn`.
 * @example
 * toStopReason('stop', 'END') // { stop_reason: 'stop_sequence', stop_sequence: 'END' }
 * toStopReason('length')      // { stop_reason: 'max_tokens', stop_sequence: null }
 */
export function toStopReason(finish: FinishReason, stopSequence?: string): { stop_reason: StopReason; stop_sequence: string | null } {
  if (finish === 'stop' && stopSequence !== undefined) return { stop_reason: 'stop_sequence', stop_sequence: stopSequence }
  return { stop_reason: STOP[finish] ?? 'end_turn', stop_sequence: null }
}
