// How long a portal answer may be reused without asking again, from its Cache-Control and Age headers
// (RFC 9111 as a private cache: max-age, no-cache, no-store; anything else is ignored).

export interface Freshness {
  /** False for `no-store`: keep neither the body nor its validators. */
  store: boolean
  /** Milliseconds the answer is fresh from now; 0 revalidates on every load. */
  freshMs: number
}

function directivesOf(header: string): Map<string, string | true> {
  const directives = new Map<string, string | true>()
  for (const part of header.split(',')) {
    const [rawName, ...rest] = part.split('=')
    const name = rawName.trim().toLowerCase()
    if (!name) continue
    const value = rest.join('=').trim().replace(/^"(.*)"$/, '$1')
    if (!directives.has(name)) directives.set(name, rest.length > 0 ? value : true)
  }
  return directives
}

function seconds(value: string | true | undefined | null): number | null {
  if (typeof value !== 'string' || !/^\d+$/.test(value)) return null
  return Number(value)
}

/**
 * The freshness of one answer.
 * @example
 * freshnessOf(new Headers({ 'cache-control': 'max-age=30' }), 60_000) // { store: true, freshMs: 30000 }
 */
export function freshnessOf(headers: Headers, defaultMs: number): Freshness {
  const directives = directivesOf(headers.get('cache-control') ?? '')
  if (directives.has('no-store')) return { store: false, freshMs: 0 }
  if (directives.has('no-cache')) return { store: true, freshMs: 0 }
  const maxAge = seconds(directives.get('max-age'))
  if (maxAge === null) return { store: true, freshMs: defaultMs }
  // Time the answer already spent in caches on the way counts against its max-age.
  const age = seconds(headers.get('age')) ?? 0
  return { store: true, freshMs: Math.max(0, maxAge - age) * 1000 }
}
