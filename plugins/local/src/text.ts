// Text helpers shared by the models: message text, word counts and word-sized stream chunks.
import type { ChatMessage } from '@robutler/kernel'

/** The text of a message: its string content, or its `text` parts joined; '' when it has none. */
export function messageText(message: ChatMessage): string {
  const content = message.content
  if (typeof content === 'string') return content
  if (!Array.isArray(content)) return ''
  let text = ''
  for (const part of content) {
    if (part?.type === 'text' && typeof part.text === 'string') text += part.text
  }
  return text
}

// The same characters as the regex class \s, tested by code so counting allocates nothing.
function isSpace(code: number): boolean {
  if (code <= 0x20) return code === 0x20 || (code >= 0x09 && code <= 0x0d)
  if (code < 0xa0) return false
  return (
    code === 0xa0 ||
    code === 0x1680 ||
    (code >= 0x2000 && code <= 0x200a) ||
    code === 0x2028 ||
    code === 0x2029 ||
    code === 0x202f ||
    code === 0x205f ||
    code === 0x3000 ||
    code === 0xfeff
  )
}

/** The number of whitespace-separated words in a text: the local models' token count. */
export function countWords(text: string): number {
  let words = 0
  let inWord = false
  for (let i = 0; i < text.length; i++) {
    const space = isSpace(text.charCodeAt(i))
    if (!space && !inWord) words++
    inWord = !space
  }
  return words
}

/** Words across the texts of all messages. */
export function countPromptWords(messages: readonly ChatMessage[]): number {
  let words = 0
  for (const message of messages) words += countWords(messageText(message))
  return words
}

/**
 * Splits a text into stream chunks of one word plus the whitespace after it; whitespace before the first word
 * goes with the first chunk, so the chunks joined are the text exactly.
 */
export function wordChunks(text: string): string[] {
  const chunks: string[] = []
  let start = 0
  let i = 0
  while (i < text.length && isSpace(text.charCodeAt(i))) i++
  while (i < text.length) {
    while (i < text.length && !isSpace(text.charCodeAt(i))) i++
    while (i < text.length && isSpace(text.charCodeAt(i))) i++
    chunks.push(text.slice(start, i))
    start = i
  }
  // A text of whitespace only is one chunk.
  if (start < text.length) chunks.push(text.slice(start))
  return chunks
}

/** The text up to the end of its `count`-th word (whitespace-separated, as countWords counts). */
export function firstWords(text: string, count: number): string {
  let words = 0
  let inWord = false
  for (let i = 0; i < text.length; i++) {
    const space = isSpace(text.charCodeAt(i))
    if (!space && !inWord) {
      if (words === count) return text.slice(0, i).trimEnd()
      words++
    }
    inWord = !space
  }
  return text
}
