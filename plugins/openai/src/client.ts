// One OpenAI SDK client per model prefix, made once at register.
import OpenAI from 'openai'
import type { KernelApi } from '@robutler/kernel'
import type { ClientSettings } from './config.js'

type Logger = KernelApi['log']
type SdkLogger = NonNullable<ConstructorParameters<typeof OpenAI>[0]>['logger']

/**
 * The SDK's own log lines go to the plugin's pino logger, never to the console. Only the message is kept: the
 * extra arguments can hold response bodies.
 */
function sdkLogger(log: Logger): SdkLogger {
  return {
    error: (message: string) => log.error({ source: 'openai-sdk' }, message),
    warn: (message: string) => log.warn({ source: 'openai-sdk' }, message),
    info: (message: string) => log.debug({ source: 'openai-sdk' }, message),
    debug: () => {},
  }
}

/**
 * Every option is explicit so the SDK reads nothing from the environment (OPENAI_BASE_URL, OPENAI_ORG_ID,
 * OPENAI_PROJECT_ID, …) behind the config's back: a named endpoint must never receive OpenAI's org or project.
 * Retries are off: the kernel retries, and two layers would multiply the attempts. `fetch`: the plugin's
 * keep-alive socket pool (createProviderFetch).
 */
export function createClient(settings: ClientSettings, log: Logger, fetch?: typeof globalThis.fetch): OpenAI {
  return new OpenAI({
    apiKey: settings.apiKey,
    adminAPIKey: null,
    baseURL: settings.baseURL,
    organization: settings.organization,
    project: null,
    webhookSecret: null,
    defaultHeaders: settings.headers,
    timeout: settings.timeout,
    maxRetries: 0,
    logger: sdkLogger(log),
    logLevel: 'warn',
    ...(fetch ? { fetch } : {}),
  })
}
