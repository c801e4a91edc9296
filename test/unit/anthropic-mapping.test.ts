// @robutler/anthropic-mapping: the two directions are one mapping. A Messages API conversation mapped to chat terms
// (the surface's direction) and back (the provider's) is the conversation it was; each pair of helpers inverts.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  fromAnthropicRequest,
  fromAnthropicToolChoice,
  fromImageBlock,
  fromThinking,
  invalidWith,
  mapStopReason,
  toAnthropicRequest,
  toAnthropicToolChoice,
  toImageBlock,
  toStopReason,
  toThinking,
} from '@robutler/anthropic-mapping'

const invalid = invalidWith('')
const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=='

/** Messages API body → chat → Messages API body, as a model call would send it. */
function roundTrip(body: Record<string, any>) {
  const chat = fromAnthropicRequest(body)
  return toAnthropicRequest({ model: 'm', messages: chat.messages, tools: chat.tools, params: chat.params }, { maxTokens: 4096 })
}

describe('the Anthropic mapping, both ways', () => {
  it('a tool conversation with images comes back as it was sent', () => {
    const body = {
      model: 'm',
      max_tokens: 20_000,
      system: 'Be brief.',
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'Weather here?' }, { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG } }] },
        { role: 'assistant', content: [{ type: 'text', text: 'Checking.' }, { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'Sunny' }, { type: 'text', text: 'Thanks' }] },
      ],
      tools: [{ name: 'get_weather', description: 'Weather', input_schema: { type: 'object', properties: { city: { type: 'string' } } } }],
      tool_choice: { type: 'any', disable_parallel_tool_use: true },
      stop_sequences: ['END'],
      metadata: { user_id: 'u1' },
      thinking: { type: 'enabled', budget_tokens: 8192 },
    }
    expect(roundTrip(body)).toEqual(body)
    // Thinking needs room below max_tokens: with too little, none is asked for.
    expect(roundTrip({ ...body, max_tokens: 100 }).thinking).toBeUndefined()
  })

  it('tool results come first in chat terms, as chat wants them after the calls', () => {
    const chat = fromAnthropicRequest({
      messages: [{ role: 'user', content: [{ type: 'text', text: 'and' }, { type: 'tool_result', tool_use_id: 't1', content: [{ type: 'text', text: 'a' }, { type: 'text', text: 'b' }], is_error: true }] }],
    })
    expect(chat.messages).toEqual([
      { role: 'tool', tool_call_id: 't1', content: 'Error: a\nb' },
      { role: 'user', content: 'and' },
    ])
  })

  it('plain text conversations survive the round trip (property)', () => {
    const text = fc.string({ minLength: 1, maxLength: 40 })
    const conversation = fc.array(text, { minLength: 1, maxLength: 6 }).map((texts) =>
      texts.map((content, i) => ({ role: i % 2 === 0 ? 'user' : 'assistant', content })),
    )
    fc.assert(
      fc.property(conversation, fc.option(text, { nil: undefined }), (messages, system) => {
        const body: Record<string, unknown> = { max_tokens: 10, messages }
        if (system !== undefined) body.system = system
        expect(roundTrip(body)).toEqual({ model: 'm', ...body })
      }),
    )
  })

  it('each pair of helpers inverts the other', () => {
    for (const part of [{ type: 'image_url', image_url: { url: `data:image/png;base64,${PNG}` } }, { type: 'image_url', image_url: { url: 'https://x.test/a.png' } }]) {
      expect(fromImageBlock(toImageBlock(part, 'p', invalid) as any, 'p', invalid)).toEqual(part)
    }
    for (const choice of [{ type: 'auto' }, { type: 'any', disable_parallel_tool_use: true }, { type: 'none' }, { type: 'tool', name: 'f' }] as const) {
      const chat = fromAnthropicToolChoice(choice, invalid)
      expect(toAnthropicToolChoice(chat.tool_choice, chat.parallel_tool_calls, invalid)).toEqual(choice)
    }
    for (const effort of ['low', 'medium', 'high'] as const) expect(fromThinking(toThinking(effort, 100_000))).toBe(effort)
    for (const reason of ['end_turn', 'max_tokens', 'tool_use', 'refusal'] as const) expect(toStopReason(mapStopReason(reason)).stop_reason).toBe(reason)
    expect(toStopReason(mapStopReason('stop_sequence'), 'END')).toEqual({ stop_reason: 'stop_sequence', stop_sequence: 'END' })
  })
})
