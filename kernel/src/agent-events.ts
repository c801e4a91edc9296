// What the agent loop yields: one closed, typed union of events that every protocol surface renders.
// Chat Completions collects it into one JSON answer or writes it as SSE chunks; the Responses and Messages
// surfaces map it to their own events. The loop is written once (runtime.ts); surfaces are adapters.
import type { AssistantMessage, ChatMessage, FinishReason, SamplingParams, ToolCall, ToolDefinition, Usage } from './types.js'

/**
 * One event of an agent run, in the order they happen. A turn is one model call of the loop.
 * - `model-start`: the model has started answering this turn (the provider said so, or its first text came);
 *   a turn that opens with tool calls may have none. `model` is the model string that answers (a fallback's
 *   after the primary failed).
 * - `text-delta`, `refusal-delta`, `reasoning-delta`: pieces of the answer, as they come.
 * - `tool-call-start`, `tool-call-delta`: a tool call taking shape (`external`: a tool of the client's).
 * - `tool-call`: a whole call the model made this turn, at the end of the turn.
 * - `usage`: what this turn's model call cost.
 * - `turn-end`: the turn's whole message and finish reason.
 * - `tool-result`: an internal call's result, after it ran.
 * - `final`: the answer: the message, why it ended (and the stop sequence that ended it, where the provider
 *   says), the usage of every call added up.
 * - `error`: the run failed (after the surface may have started answering); the run's promise rejects too.
 */
export type AgentEvent =
  | { type: 'model-start'; turn: number; model: string }
  | { type: 'text-delta'; text: string }
  | { type: 'refusal-delta'; text: string }
  | { type: 'reasoning-delta'; text: string }
  | { type: 'tool-call-start'; index: number; id: string; name: string; external: boolean }
  | { type: 'tool-call-delta'; index: number; arguments: string }
  | { type: 'tool-call'; call: ToolCall; external: boolean }
  | { type: 'usage'; turn: number; model: string; usage: Usage }
  | { type: 'turn-end'; turn: number; model: string; message: AssistantMessage; finishReason: FinishReason }
  | { type: 'tool-result'; callId: string; name: string; content: string; error: boolean }
  | { type: 'final'; message: AssistantMessage; finishReason: FinishReason; usage: Usage; model: string; stopSequence?: string }
  | { type: 'error'; error: import('./errors.js').RobutlerError }

export type AgentEventType = AgentEvent['type']

/**
 * Receives each event of a run. It returns a promise only when the run must wait (a client reading slower than
 * the model writes): the common event costs no async hop.
 */
export type AgentEventSink = (event: AgentEvent) => void | Promise<void>

/** What a surface asks the loop to answer: the conversation in Chat Completions' terms. */
export interface AgentInput {
  messages: ChatMessage[]
  /** The client's own tools: a call of one ends the run with `finish_reason: "tool_calls"`. */
  tools?: ToolDefinition[]
  /** Sampling and output fields for the provider. */
  params: SamplingParams
  /** Call the model streamed (deltas as they come) or whole. */
  stream: boolean
  /**
   * For a surface that keeps the conversation (the Responses API with `store`): a turn that calls both internal
   * and client tools runs the internal ones too (each told as a `tool-result` event) before the run ends with the
   * client's calls, so the stored history holds their results. Default false: such a turn runs none of them.
   */
  keepInternalResults?: boolean
}

/** How a run ended (the `final` event's content). */
export interface AgentResult {
  message: AssistantMessage
  finishReason: FinishReason
  usage: Usage
  /** The model string that gave the last answer. */
  model: string
  /** The stop sequence that ended the answer (`finishReason` "stop"), where the provider said which one did. */
  stopSequence?: string
}
