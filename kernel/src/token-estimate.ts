// An estimate of a model request's input tokens, for providers that cannot count them: about four characters a
// token, as the common BPE tokenizers give for English text and JSON. An estimate, never exact; it says nothing
// about a given tokenizer.
import type { ChatMessage, ModelRequest } from './types.js'

const CHARS_PER_TOKEN = 4
/** What each message costs beyond its text (role, separators), as chat templates add. */
const TOKENS_PER_MESSAGE = 4
/** An image of unknown size: about what a 1000×1000 picture costs at the common providers. */
const TOKENS_PER_IMAGE = 1_300

function contentChars(message: ChatMessage): { chars: number; images: number } {
  const content = message.content
  let chars = 0
  let images = 0
  if (typeof content === 'string') chars += content.length
  else if (Array.isArray(content)) {
    for (const part of content) {
      if (typeof part?.text === 'string') chars += part.text.length
      else if (part?.type === 'image_url') images++
      else chars += JSON.stringify(part).length
    }
  }
  for (const call of message.tool_calls ?? []) chars += call.function.name.length + call.function.arguments.length
  return { chars, images }
}

/**
 * Estimated input tokens of a request: its messages' texts, tool calls and tool definitions at about four
 * characters a token, a few tokens per message, a fixed figure per image.
 * @example
 * estimateTokens({ model: 'm', messages: [{ role: 'user', content: 'Hello there, how are you?' }], params: {} }) // 11
 */
export function estimateTokens(request: ModelRequest): number {
  let chars = 0
  let tokens = 0
  for (const message of request.messages) {
    const counted = contentChars(message)
    chars += counted.chars
    tokens += TOKENS_PER_MESSAGE + counted.images * TOKENS_PER_IMAGE
  }
  if (request.tools && request.tools.length > 0) chars += JSON.stringify(request.tools).length
  return tokens + Math.ceil(chars / CHARS_PER_TOKEN)
}
