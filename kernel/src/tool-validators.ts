// Compiles tool-argument schemas once per schema object, on one ajv per kernel.
import { Ajv } from 'ajv'
import addFormats from 'ajv-formats'
import { describeAjvErrors } from './config-schema.js'
import type { JsonSchema } from './types.js'

/** Returns null when the arguments are valid, else a sentence naming what is wrong. */
export type ArgsValidator = (args: unknown) => string | null

export class ToolValidators {
  readonly #ajv = new Ajv({ allErrors: true, strict: false })
  // Keyed by the schema object: a skill that returns module-level schemas compiles each once, however many
  // agents attach it; ajv's own cache is emptied after compiling so reloaded agents do not pile up in it.
  readonly #cache = new WeakMap<object, ArgsValidator>()

  constructor() {
    addFormats.default(this.#ajv)
  }

  compile(schema: JsonSchema, owner: string): ArgsValidator {
    const cached = this.#cache.get(schema)
    if (cached) return cached
    let validate
    try {
      validate = this.#ajv.compile(schema)
    } catch (error: any) {
      throw new Error(`the parameters schema of ${owner} is not valid JSON Schema: ${error.message}`)
    } finally {
      this.#ajv.removeSchema(schema)
    }
    const check: ArgsValidator = (args) => (validate(args) ? null : describeAjvErrors(validate.errors))
    this.#cache.set(schema, check)
    return check
  }
}
