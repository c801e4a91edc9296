// Model providers by prefix: `openai/gpt-4o` is the provider `openai` with model `gpt-4o`.
import { ERR_PROVIDER_DUPLICATE } from './errors.js'
import type { Provider } from './types.js'

export interface ModelTarget {
  /** The full model string, as configured. */
  id: string
  prefix: string
  model: string
  provider: Provider
}

export function splitModel(model: string): { prefix: string; model: string } {
  const slash = model.indexOf('/')
  return slash < 0 ? { prefix: '', model } : { prefix: model.slice(0, slash), model: model.slice(slash + 1) }
}

export class ProviderRegistry {
  readonly #providers = new Map<string, Provider>()

  register(prefix: string, provider: Provider): void {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(prefix)) throw new TypeError(`Invalid provider prefix '${prefix}'`)
    if (typeof provider?.complete !== 'function' || typeof provider.stream !== 'function') {
      throw new TypeError(`Provider '${prefix}' must have complete() and stream()`)
    }
    if (this.#providers.has(prefix)) throw ERR_PROVIDER_DUPLICATE(prefix)
    this.#providers.set(prefix, provider)
  }

  has(prefix: string): boolean {
    return this.#providers.has(prefix)
  }

  prefixes(): string[] {
    return [...this.#providers.keys()]
  }

  /** The target for a model string, or null when no provider has its prefix. */
  target(id: string): ModelTarget | null {
    const { prefix, model } = splitModel(id)
    const provider = this.#providers.get(prefix)
    return provider ? { id, prefix, model, provider } : null
  }
}
