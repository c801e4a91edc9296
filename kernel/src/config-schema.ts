// JSON Schemas of robutler.config.json and of one agent, compiled once.
import { Ajv, type ErrorObject } from 'ajv'
import addFormats from 'ajv-formats'
import { PERMISSIONS_SCHEMA } from '@robutler/registry'
import { serverSectionSchema } from './options.js'
import { paramPolicySchema } from './param-policy.js'

export const AGENT_NAME_PATTERN = '^[a-z0-9][a-z0-9_-]{0,63}$'
export const AGENT_NAME = new RegExp(AGENT_NAME_PATTERN)

/** Names that are the kernel's own routes under the prefix (enabled surfaces reserve theirs too). */
export const RESERVED_AGENT_NAMES: ReadonlySet<string> = new Set(['health', 'live', 'ready', 'info', 'agents', 'metrics', 'models', 'chat'])

/**
 * Why `name` cannot name an agent (it fails the pattern, or it is one of the kernel's own routes; an enabled
 * surface's route names are refused too, by the server that has them), or null when it can.
 * @example
 * agentNameProblem('health') // "'health' is a route of its own and cannot name an agent"
 */
export function agentNameProblem(name: string): string | null {
  if (!AGENT_NAME.test(name)) return `agent names are ${AGENT_NAME_RULE}`
  if (RESERVED_AGENT_NAMES.has(name)) return reservedNameProblem(name, 'the kernel')
  return null
}

/** Why an agent cannot be named after a route that `holder` serves ('the kernel', or a surface's plugin). */
export function reservedNameProblem(name: string, holder: string): string {
  return `'${name}' is a route of ${holder === 'the kernel' ? 'its own' : holder} and cannot name an agent`
}

/** True for a name an agent may have: the pattern, and not one of the server's own routes. */
export function isAgentName(name: string): boolean {
  return AGENT_NAME.test(name) && !RESERVED_AGENT_NAMES.has(name)
}

const MODEL_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_.-]*/.+$'
// As ajv compiles the schema's pattern.
const MODEL = new RegExp(MODEL_PATTERN, 'u')
const MODEL_MAX_LENGTH = 256

/** True for a model string an agent may name: `provider/model`, as `openai/gpt-4o`. */
export function isModelString(value: unknown): value is string {
  return typeof value === 'string' && value.length <= MODEL_MAX_LENGTH && MODEL.test(value)
}

const scope = { enum: ['all', 'owner', 'admin'] }
const modelString = { type: 'string', pattern: MODEL_PATTERN, maxLength: MODEL_MAX_LENGTH, description: "'provider/model', as 'openai/gpt-4o' or 'local/echo'" }
/** What AGENT_NAME_PATTERN asks for, in words (schema errors say this rather than the regex). */
export const AGENT_NAME_RULE = "lower-case letters, digits, '-' and '_', starting with a letter or digit, at most 64 characters"

const section = { type: 'object' }

/**
 * A top-level `skills` entry: the skill's default config, plus the two keys the kernel keeps for itself (taken out
 * before the skill sees its config): `grant`, the permissions the operator granted, and `isolate`.
 */
const skillEntry = {
  type: 'object',
  properties: {
    grant: { ...PERMISSIONS_SCHEMA, description: 'the permissions granted to this skill (robutler skills add records them)' },
    isolate: { type: 'boolean', description: "run the skill's tools in a separate process pool (default: true outside @robutler/)" },
  },
}

/** The keys of a `skills` entry that belong to the kernel, not to the skill's config. */
export const SKILL_ENTRY_KEYS: readonly string[] = ['grant', 'isolate']

export const agentSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'model'],
  properties: {
    name: { type: 'string', pattern: AGENT_NAME_PATTERN, description: AGENT_NAME_RULE },
    description: { type: 'string' },
    model: modelString,
    instructions: { type: 'string' },
    scopes: { type: 'array', items: scope, minItems: 1, uniqueItems: true },
    skills: { type: 'object', additionalProperties: section },
    maxIterations: { type: 'integer', minimum: 1, maximum: 100 },
    fallbackModels: { type: 'array', items: modelString },
    owner: { type: 'string', minLength: 1 },
    params: paramPolicySchema,
  },
} as const

export const configSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    $schema: { type: 'string' },
    server: serverSectionSchema,
    plugins: { type: 'object', additionalProperties: section },
    skills: { type: 'object', additionalProperties: skillEntry },
    agents: { type: 'array', items: agentSchema },
  },
} as const

// verbose: errors carry the failing schema, so an unknown key gets the nearest known one, a pattern its words.
const ajv = new Ajv({ allErrors: true, strict: true, verbose: true })
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
