// JSON from outside, read safely: request bodies no deeper than the server will walk (a body nested 100,000
// levels parses, then overflows the stack of whatever serialises it later), and config or loaded agents with no
// prototype keys (`__proto__` in a config file set an agent's prototype, which the unknown-key check cannot see).
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { ERR_INVALID_REQUEST } from './errors.js'

/** Deeper than any chat request needs (tool schemas included), far shallower than a stack overflow. */
export const MAX_JSON_DEPTH = 128

/** True when the JSON text opens more than `max` arrays and objects inside one another (strings skipped). */
export function nestedDeeperThan(text: string, max: number): boolean {
  let depth = 0
  const length = text.length
  for (let i = 0; i < length; i++) {
    const c = text.charCodeAt(i)
    if (c === 34) {
      // A string: skip to its closing quote, past escaped characters.
      for (i++; i < length; i++) {
        const d = text.charCodeAt(i)
        if (d === 92) i++
        else if (d === 34) break
      }
    } else if (c === 123 || c === 91) {
      if (++depth > max) return true
    } else if (c === 125 || c === 93) {
      depth--
    }
  }
  return false
}

/**
 * Replaces Fastify's JSON body parser with the same parser (it refuses `__proto__` and `constructor.prototype`
 * keys) behind a nesting check: too deep is a 400, never a 502 from a stack overflow further on.
 */
export function installJsonBodyParser(app: FastifyInstance, maxDepth = MAX_JSON_DEPTH): void {
  const parse = app.getDefaultJsonParser('error', 'error')
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, function jsonBody(request: FastifyRequest, body: string | Buffer, done) {
    const text = typeof body === 'string' ? body : body.toString('utf8')
    if (nestedDeeperThan(text, maxDepth)) {
      done(ERR_INVALID_REQUEST(`The request body nests JSON deeper than ${maxDepth} levels`), undefined)
      return
    }
    parse(request, text, done)
  })
}

/**
 * The JSON path of the first place in `value` that is not plain data: an own `__proto__` key (as JSON.parse
 * makes one), or an object whose prototype is not Object's or Array's (a `__proto__` key that an object literal
 * or an assignment turned into a prototype). Null when it is plain data all through.
 * @example
 * unsafeKeyPath(JSON.parse('{"agents":[{"__proto__":{"scopes":["admin"]}}]}')) // '/agents/0/__proto__'
 */
export function unsafeKeyPath(value: unknown, path = ''): string | null {
  if (value === null || typeof value !== 'object') return null
  const proto = Object.getPrototypeOf(value)
  if (Array.isArray(value)) {
    if (proto !== Array.prototype) return `${path} (an array with a prototype of its own)`
    for (let i = 0; i < value.length; i++) {
      const found = unsafeKeyPath(value[i], `${path}/${i}`)
      if (found !== null) return found
    }
    return null
  }
  if (proto !== Object.prototype && proto !== null) return `${path || '/'} (an object with a prototype of its own)`
  for (const key of Object.keys(value)) {
    if (key === '__proto__') return `${path}/${key}`
    const found = unsafeKeyPath((value as Record<string, unknown>)[key], `${path}/${key}`)
    if (found !== null) return found
  }
  return null
}
