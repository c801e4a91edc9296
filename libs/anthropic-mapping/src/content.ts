// Content that both APIs carry with other names: images (an image_url part ↔ an image block) and tool-call
// arguments (a JSON string ↔ an input object).
import type Anthropic from '@anthropic-ai/sdk'
import type { ContentPart } from '@robutler/kernel'
import type { Invalid } from './invalid.js'

/** Media types the Messages API accepts for base64 images. */
export const IMAGE_TYPES: ReadonlySet<string> = new Set(['image/jpeg', 'image/png', 'image/gif', 'image/webp'])
const DATA_URL = /^data:([^;,]+);base64,(.*)$/s

/**
 * An OpenAI `image_url` part as an image block: a `data:image/…;base64,` URL as a base64 source, an http(s) URL
 * as a url source; anything else is a 400 at `at`.
 */
export function toImageBlock(part: ContentPart, at: string, invalid: Invalid): Anthropic.ImageBlockParam {
  const field = part.image_url as string | { url?: unknown } | undefined
  const url = typeof field === 'string' ? field : field?.url
  if (typeof url !== 'string') throw invalid('image_url needs a url', `${at}.image_url.url`)
  const data = DATA_URL.exec(url)
  if (data) {
    const mediaType = data[1]!.toLowerCase()
    if (!IMAGE_TYPES.has(mediaType)) throw invalid(`image type '${mediaType}' is not supported (jpeg, png, gif, webp)`, `${at}.image_url.url`)
    return { type: 'image', source: { type: 'base64', media_type: mediaType as Anthropic.Base64ImageSource['media_type'], data: data[2]! } }
  }
  if (/^https?:\/\//i.test(url)) return { type: 'image', source: { type: 'url', url } }
  throw invalid('an image_url must be an http(s) URL or a base64 data: URL', `${at}.image_url.url`)
}

/**
 * An image block as an OpenAI `image_url` part, the reverse of toImageBlock: a base64 source as a data: URL, a url
 * source as its URL. Other sources (a file id) are a 400 at `at`.
 */
export function fromImageBlock(block: Record<string, unknown>, at: string, invalid: Invalid): ContentPart {
  const source = block.source as { type?: unknown; media_type?: unknown; data?: unknown; url?: unknown } | undefined
  if (source?.type === 'base64') {
    if (typeof source.media_type !== 'string' || !IMAGE_TYPES.has(source.media_type)) {
      throw invalid(`image media_type must be one of ${[...IMAGE_TYPES].join(', ')}`, `${at}.source.media_type`)
    }
    if (typeof source.data !== 'string' || source.data.length === 0) throw invalid('a base64 image needs data', `${at}.source.data`)
    return { type: 'image_url', image_url: { url: `data:${source.media_type};base64,${source.data}` } }
  }
  if (source?.type === 'url') {
    if (typeof source.url !== 'string' || !/^https?:\/\//i.test(source.url)) throw invalid('an image url must be http(s)', `${at}.source.url`)
    return { type: 'image_url', image_url: { url: source.url } }
  }
  throw invalid(`image source type '${String(source?.type)}' is not supported (base64, url)`, `${at}.source.type`)
}

/**
 * Tool-call arguments as the `input` object the Messages API requires. Arguments that are not a JSON object
 * (invalid JSON, an array, '') become `{}`: the API refuses anything else, and the tool result that followed the
 * call already told the model what went wrong with it.
 */
export function toToolInput(args: string | undefined): Record<string, unknown> {
  if (!args) return {}
  try {
    const value: unknown = JSON.parse(args)
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {}
  } catch {
    return {}
  }
}

/** A tool_use block's `input` as OpenAI tool-call arguments (a JSON string; `{}` for none). */
export function toToolArguments(input: unknown): string {
  return JSON.stringify(input ?? {})
}
