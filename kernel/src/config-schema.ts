// JSON Schemas of robutler.config.json and of one agent, compiled once.
import { Ajv, type ErrorObject } from 'ajv'
import addFormats from 'ajv-formats'

export const AGENT_NAME_PATTERN = '^[a-z0-9][a-z0-9_-]{0,63}$'
export const AGENT_NAME = new RegExp(AGENT_NAME_PATTERN)
/** True for a name an agent may have: the pattern, and not one of the server's own routes. */
export function isAgentName(name: string): boolean {
  return AGENT_NAME.test(name) && !RESERVED_AGENT_NAMES.has(name)
}

/** Names that are the kernel's own routes under the prefix (enabled surfaces reserve theirs too). */
export const RESERVED_AGENT_NAMES: ReadonlySet<string> = new Set(['health', 'live', 'ready', 'info', 'agents', 'metrics', 'models', 'chat'])

const scope = { enum: ['all', 'owner', 'admin'] }
const modelString = { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]*/.+$', maxLength: 256 }
const section = { type: 'object' }

export const agentSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'model'],
  properties: {
    name: { type: 'string', pattern: AGENT_NAME_PATTERN },
    description: { type: 'string' },
    model: modelString,
    instructions: { type: 'string' },
    scopes: { type: 'array', items: scope, minItems: 1, uniqueItems: true },
    skills: { type: 'object', additionalProperties: section },
    maxIterations: { type: 'integer', minimum: 1, maximum: 100 },
    fallbackModels: { type: 'array', items: modelString },
    owner: { type: 'string', minLength: 1 },
  },
} as const

const size = { anyOf: [{ type: 'integer', minimum: 1 }, { type: 'string', pattern: '^\\s*\\d+(\\.\\d+)?\\s*(B|KB|MB|GB|kb|mb|gb|b)?\\s*$' }] }

export const configSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    $schema: { type: 'string' },
    server: {
      type: 'object',
      additionalProperties: false,
      properties: {
        title: { type: 'string' },
        host: { type: 'string' },
        port: { type: 'integer', minimum: 0, maximum: 65535 },
        urlPrefix: { type: 'string', pattern: '^(/[A-Za-z0-9._~-]+)*/?$' },
        logLevel: { enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] },
        logPretty: { type: 'boolean' },
        cors: {
          type: 'object',
          additionalProperties: false,
          properties: { origins: { type: 'array', items: { type: 'string' } } },
        },
        requestTimeout: { type: 'number', exclusiveMinimum: 0 },
        maxRequestSize: size,
        workers: { type: 'integer', minimum: 1, maximum: 256 },
        workerThreads: { anyOf: [{ const: 'auto' }, { type: 'integer', minimum: 0, maximum: 256 }] },
        workerQueue: { type: 'integer', minimum: 0, maximum: 1_000_000 },
        workerResourceLimits: {
          type: 'object',
          additionalProperties: false,
          properties: {
            maxOldGenerationSizeMb: { type: 'integer', minimum: 16 },
            maxYoungGenerationSizeMb: { type: 'integer', minimum: 1 },
            codeRangeSizeMb: { type: 'integer', minimum: 1 },
            stackSizeMb: { type: 'integer', minimum: 1 },
          },
        },
        toolTimeout: { type: 'number', exclusiveMinimum: 0 },
        providerTimeout: { type: 'number', exclusiveMinimum: 0 },
        providerRetries: { type: 'integer', minimum: 0, maximum: 10 },
        asyncContext: { anyOf: [{ type: 'boolean' }, { const: 'auto' }] },
        trustProxy: { anyOf: [{ type: 'boolean' }, { type: 'integer', minimum: 0 }, { type: 'string' }, { type: 'array', items: { type: 'string' } }] },
        drainTimeout: { type: 'number', minimum: 0 },
        pluginTimeout: { type: 'number', exclusiveMinimum: 0 },
      },
    },
    plugins: { type: 'object', additionalProperties: section },
    skills: { type: 'object', additionalProperties: section },
    agents: { type: 'array', items: agentSchema },
  },
} as const

const ajv = new Ajv({ allErrors: true, strict: true })
addFormats.default(ajv)
export const validateConfigShape = ajv.compile(configSchema)
export const validateAgentShape = ajv.compile(agentSchema)

/** One line per ajv error: `/agents/0/name must match pattern …`. */
export function describeAjvErrors(errors: ErrorObject[] | null | undefined): string {
  if (!errors || errors.length === 0) return 'invalid'
  return errors
    .map((e) => {
      const where = e.instancePath || '(root)'
      if (e.keyword === 'additionalProperties') return `${where} has unknown key '${(e.params as any).additionalProperty}'`
      if (e.keyword === 'enum') return `${where} must be one of ${(e.params as any).allowedValues.join(', ')}`
      return `${where} ${e.message}`
    })
    .join('; ')
}
