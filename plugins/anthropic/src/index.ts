// @robutler/plugin-anthropic: Anthropic's Messages API as the `anthropic` model prefix, mapped to and from
// OpenAI chat completions.
import { createProviderFetch, definePlugin } from '@robutler/kernel'
import { createAnthropicProvider, DEFAULT_MAX_TOKENS, MISSING_KEY_MESSAGE, type AnthropicConfig } from './provider.js'
import {
  fromAnthropicMessage,
  fromAnthropicUsage,
  mapStopReason,
  toAnthropicRequest,
  type AnthropicUsage,
  type ToAnthropicOptions,
} from '@robutler/anthropic-mapping'
import { fromAnthropicStream } from './stream.js'

export default definePlugin<AnthropicConfig>({
  name: 'anthropic',
  register(kernel, config) {
    // The server's environment is only the key's default; an empty value counts as unset.
    const apiKey = config?.apiKey || kernel.env.ANTHROPIC_API_KEY || undefined
    if (!apiKey) kernel.log.warn('no API key (ANTHROPIC_API_KEY): calls to anthropic/* models will fail')
    const upstream = createProviderFetch()
    kernel.onClose(() => upstream.close())
    kernel.providers.register('anthropic', createAnthropicProvider({ ...config, apiKey }, { log: kernel.log, fetch: upstream.fetch }))
  },
})

// The mapping functions live in @robutler/anthropic-mapping (shared with plugin-messages); re-exported here as before.
export {
  createAnthropicProvider,
  toAnthropicRequest,
  fromAnthropicMessage,
  fromAnthropicUsage,
  fromAnthropicStream,
  mapStopReason,
  DEFAULT_MAX_TOKENS,
  MISSING_KEY_MESSAGE,
}
export type { AnthropicConfig, AnthropicUsage, ToAnthropicOptions }
