// @robutler/plugin-openai: OpenAI and any OpenAI-compatible endpoint (vLLM, Ollama, llama.cpp, Together, Groq)
// as model providers, one prefix per endpoint.
import { createProviderFetch, definePlugin } from '@robutler/kernel'
import { createClient } from './client.js'
import { endpointSettings, openaiSettings, OPENAI_PREFIX, type EndpointConfig, type OpenAIConfig } from './config.js'
import { createKeylessProvider, createOpenAIProvider } from './provider.js'

export default definePlugin<OpenAIConfig>({
  name: 'openai',
  register(kernel, config) {
    const settings = config ?? {}
    // The environment is only the key's default; everything else comes from the config section.
    const openai = openaiSettings(settings, kernel.env.OPENAI_API_KEY)
    const endpoints = endpointSettings(settings)
    const upstream = createProviderFetch()
    kernel.onClose(() => upstream.close())
    if (openai === null) {
      const level = endpoints.length > 0 ? 'info' : 'warn'
      kernel.log[level]("no API key (OPENAI_API_KEY or apiKey): calls to 'openai/*' models will fail")
      kernel.providers.register(OPENAI_PREFIX, createKeylessProvider())
    } else {
      kernel.providers.register(OPENAI_PREFIX, createOpenAIProvider(createClient(openai, kernel.log, upstream.fetch)))
    }
    for (const endpoint of endpoints) {
      kernel.providers.register(endpoint.prefix, createOpenAIProvider(createClient(endpoint, kernel.log, upstream.fetch)))
    }
  },
})

export { createOpenAIProvider }
export type { EndpointConfig, OpenAIConfig }
