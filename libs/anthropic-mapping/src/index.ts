// @robutler/anthropic-mapping: OpenAI chat shapes ↔ Anthropic Messages API shapes, both ways, in one place.
// plugin-anthropic (a provider) maps requests to Anthropic and answers from it; plugin-messages (a surface) maps
// requests from Anthropic's clients and answers to them.
export { fromImageBlock, toImageBlock, toToolArguments, toToolInput, IMAGE_TYPES } from './content.js'
export { fromAnthropicRequest } from './from-anthropic-request.js'
export type { ChatConversation } from './from-anthropic-request.js'
export { invalidWith } from './invalid.js'
export type { Invalid } from './invalid.js'
export { fromAnthropicMessage, toAnthropicContent } from './message.js'
export type { AnswerBlock } from './message.js'
export { fromThinking, toThinking, THINKING_BUDGETS } from './reasoning.js'
export type { ReasoningEffort } from './reasoning.js'
export { mapStopReason, toStopReason } from './stop-reason.js'
export type { StopReason } from './stop-reason.js'
export { toAnthropicRequest } from './to-anthropic-request.js'
export type { ToAnthropicOptions } from './to-anthropic-request.js'
export { fromAnthropicTool, fromAnthropicToolChoice, toAnthropicTool, toAnthropicToolChoice } from './tools.js'
export { fromAnthropicUsage, toAnthropicUsage } from './usage.js'
export type { AnthropicUsage } from './usage.js'
