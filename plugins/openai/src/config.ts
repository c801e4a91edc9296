// The plugin's config section (config.schema.json has the same shape) and what each prefix is built from.

/** An OpenAI-compatible server served under a model prefix of its own: `ollama/llama3.1`. */
export interface EndpointConfig {
  baseURL: string
  /** Sent as the bearer token; a placeholder when unset (local servers ignore it). */
  apiKey?: string
  headers?: Record<string, string>
}

export interface OpenAIConfig {
  /** Default: the OPENAI_API_KEY environment variable. */
  apiKey?: string
  baseURL?: string
  organization?: string
  headers?: Record<string, string>
  /** Milliseconds until a call without a response gives up, for every prefix (default 600000, as the SDK). */
  timeout?: number
  endpoints?: Record<string, EndpointConfig>
}

/** What one SDK client (one model prefix) is made from. */
export interface ClientSettings {
  prefix: string
  baseURL: string
  apiKey: string
  organization: string | null
  headers: Record<string, string> | undefined
  timeout: number
}

export const OPENAI_PREFIX = 'openai'
export const OPENAI_BASE_URL = 'https://api.openai.com/v1'
export const DEFAULT_TIMEOUT_MS = 600_000
/** The bearer token of endpoints configured without a key: the SDK needs one, local servers ignore it. */
export const PLACEHOLDER_KEY = 'robutler-no-key'

/** The `openai` prefix's settings; null when there is no API key (the provider then fails every call). */
export function openaiSettings(config: OpenAIConfig, envKey: string | undefined): ClientSettings | null {
  const apiKey = config.apiKey !== undefined ? config.apiKey : envKey
  if (!apiKey) return null
  return {
    prefix: OPENAI_PREFIX,
    baseURL: config.baseURL ?? OPENAI_BASE_URL,
    apiKey,
    organization: config.organization ?? null,
    headers: config.headers,
    timeout: config.timeout ?? DEFAULT_TIMEOUT_MS,
  }
}

/** One settings object per named endpoint, in config order. */
export function endpointSettings(config: OpenAIConfig): ClientSettings[] {
  return Object.entries(config.endpoints ?? {}).map(([prefix, endpoint]) => ({
    prefix,
    baseURL: endpoint.baseURL,
    apiKey: endpoint.apiKey || PLACEHOLDER_KEY,
    organization: null,
    headers: endpoint.headers,
    timeout: config.timeout ?? DEFAULT_TIMEOUT_MS,
  }))
}
