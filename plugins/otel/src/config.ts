// The plugin's settings: its config section first, then the standard OTEL_* environment variables (read from the
// kernel's env, never process.env), then the OpenTelemetry defaults. A value that cannot be read stops startup
// naming the variable.

export type Protocol = 'http/protobuf' | 'http/json'
export type SamplerName = 'always_on' | 'always_off' | 'traceidratio' | 'parentbased_always_on' | 'parentbased_always_off' | 'parentbased_traceidratio'

export interface OtelConfig {
  captureContent?: boolean
  maxContentBytes?: number
  endpoint?: string
  protocol?: Protocol
  headers?: Record<string, string>
  serviceName?: string
  sampler?: SamplerName
  samplerArg?: number
}

export interface OtelSettings {
  /** False when OTEL_SDK_DISABLED=true: the plugin then records nothing. */
  enabled: boolean
  captureContent: boolean
  maxContentBytes: number
  /** Where spans are POSTed: the whole traces URL. */
  url: string
  protocol: Protocol
  headers: Record<string, string>
  serviceName: string
  /** OTEL_RESOURCE_ATTRIBUTES, service.name aside. */
  resource: Record<string, string>
  sampler: SamplerName
  ratio: number
  batch: { scheduledDelayMillis: number; maxQueueSize: number; maxExportBatchSize: number; exportTimeoutMillis: number }
}

type Env = Readonly<Record<string, string | undefined>>

const SAMPLERS: readonly SamplerName[] = ['always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio']
const PROTOCOLS: readonly string[] = ['http/protobuf', 'http/json']

function given(env: Env, name: string): string | undefined {
  const value = env[name]?.trim()
  return value === undefined || value === '' ? undefined : value
}

function integer(env: Env, name: string, fallback: number): number {
  const text = given(env, name)
  if (text === undefined) return fallback
  const value = Number(text)
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name}=${JSON.stringify(text)} is not a whole number of 0 or more`)
  return value
}

/** `key=value,key2=value2`, values URL-encoded: the format of OTEL_EXPORTER_OTLP_HEADERS and OTEL_RESOURCE_ATTRIBUTES. */
export function parseKeyValues(text: string | undefined, name: string): Record<string, string> {
  const out: Record<string, string> = {}
  if (text === undefined) return out
  for (const pair of text.split(',')) {
    if (pair.trim() === '') continue
    const at = pair.indexOf('=')
    if (at <= 0) throw new Error(`${name}: '${pair.trim().slice(0, 40)}' is not key=value`)
    out[decodeURIComponent(pair.slice(0, at).trim())] = decodeURIComponent(pair.slice(at + 1).trim())
  }
  return out
}

function tracesUrl(config: OtelConfig, env: Env): string {
  const base = config.endpoint ?? given(env, 'OTEL_EXPORTER_OTLP_ENDPOINT')
  if (config.endpoint === undefined) {
    const signal = given(env, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT')
    if (signal !== undefined) return signal
  }
  return `${(base ?? 'http://localhost:4318').replace(/\/+$/, '')}/v1/traces`
}

function protocolOf(config: OtelConfig, env: Env): Protocol {
  const text = config.protocol ?? given(env, 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL') ?? given(env, 'OTEL_EXPORTER_OTLP_PROTOCOL') ?? 'http/protobuf'
  if (text === 'grpc') throw new Error('OTEL_EXPORTER_OTLP_PROTOCOL=grpc is not served by @robutler/plugin-otel: use http/protobuf (port 4318 on a collector, Jaeger or Tempo)')
  if (!PROTOCOLS.includes(text)) throw new Error(`OTEL_EXPORTER_OTLP_PROTOCOL=${JSON.stringify(text)} is not one of ${PROTOCOLS.join(', ')}`)
  return text as Protocol
}

function samplerOf(config: OtelConfig, env: Env): { sampler: SamplerName; ratio: number } {
  const name = (config.sampler ?? given(env, 'OTEL_TRACES_SAMPLER') ?? 'parentbased_always_on') as SamplerName
  if (!SAMPLERS.includes(name)) throw new Error(`OTEL_TRACES_SAMPLER=${JSON.stringify(name)} is not one of ${SAMPLERS.join(', ')}`)
  let ratio = config.samplerArg
  if (ratio === undefined) {
    const text = given(env, 'OTEL_TRACES_SAMPLER_ARG')
    ratio = text === undefined ? 1 : Number(text)
    if (!(ratio >= 0 && ratio <= 1)) throw new Error(`OTEL_TRACES_SAMPLER_ARG=${JSON.stringify(text)} is not a ratio from 0 to 1`)
  }
  return { sampler: name, ratio }
}

export function resolveSettings(config: OtelConfig, env: Env): OtelSettings {
  const resource = parseKeyValues(given(env, 'OTEL_RESOURCE_ATTRIBUTES'), 'OTEL_RESOURCE_ATTRIBUTES')
  const serviceName = config.serviceName ?? given(env, 'OTEL_SERVICE_NAME') ?? resource['service.name'] ?? 'robutler'
  delete resource['service.name']
  const headers = {
    ...parseKeyValues(given(env, 'OTEL_EXPORTER_OTLP_HEADERS'), 'OTEL_EXPORTER_OTLP_HEADERS'),
    ...parseKeyValues(given(env, 'OTEL_EXPORTER_OTLP_TRACES_HEADERS'), 'OTEL_EXPORTER_OTLP_TRACES_HEADERS'),
    ...config.headers,
  }
  const timeout = integer(env, 'OTEL_EXPORTER_OTLP_TIMEOUT', 10_000)
  const maxQueueSize = integer(env, 'OTEL_BSP_MAX_QUEUE_SIZE', 2048)
  return {
    enabled: given(env, 'OTEL_SDK_DISABLED')?.toLowerCase() !== 'true',
    captureContent: config.captureContent ?? false,
    maxContentBytes: config.maxContentBytes ?? 8192,
    url: tracesUrl(config, env),
    protocol: protocolOf(config, env),
    headers,
    serviceName,
    resource,
    ...samplerOf(config, env),
    batch: {
      scheduledDelayMillis: integer(env, 'OTEL_BSP_SCHEDULE_DELAY', 5000),
      maxQueueSize,
      // Never more than the queue holds, as the SDK's batch processor clamps it.
      maxExportBatchSize: Math.min(maxQueueSize, integer(env, 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE', 512)),
      exportTimeoutMillis: Math.min(timeout, integer(env, 'OTEL_BSP_EXPORT_TIMEOUT', 30_000)),
    },
  }
}
