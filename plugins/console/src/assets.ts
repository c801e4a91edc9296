// The page and its files, built with the package (tsc compiles web/src into dist/web): read once at register,
// gzipped once, served from memory. Nothing is fetched from anywhere else, at build time or run time.
import { readdirSync, readFileSync } from 'node:fs'
import { extname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import type { FastifyReply, FastifyRequest } from 'fastify'

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
}

/**
 * The page's policy: its own scripts, styles and API only. No inline script or style, no other origin, no
 * frames, no forms posted elsewhere.
 */
export const PAGE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

interface Asset {
  type: string
  raw: Buffer
  gzip: Buffer
}

const PACKAGE_DIR = fileURLToPath(new URL('..', import.meta.url))

/** `{{BASE}}` and `{{PREFIX}}` in the page become the console's own path and the server's urlPrefix. */
function readAssets(dir: string, into: Map<string, Asset>, places: Record<string, string>): void {
  for (const name of readdirSync(dir)) {
    const type = TYPES[extname(name)]
    if (type === undefined) continue
    let raw = readFileSync(join(dir, name))
    if (name === 'index.html') raw = Buffer.from(raw.toString('utf8').replace(/\{\{(BASE|PREFIX)\}\}/g, (_, key: string) => places[key]))
    into.set(name, { type, raw, gzip: gzipSync(raw, { level: 9 }) })
  }
}

export class Assets {
  readonly #files = new Map<string, Asset>()

  constructor(base: string, prefix: string) {
    const places = { BASE: base, PREFIX: prefix }
    readAssets(join(PACKAGE_DIR, 'web', 'static'), this.#files, places)
    readAssets(join(PACKAGE_DIR, 'dist', 'web'), this.#files, places)
  }

  has(name: string): boolean {
    return this.#files.has(name)
  }

  /** Every file's gzipped size in bytes (what a first load transfers). */
  gzippedBytes(): number {
    let total = 0
    for (const asset of this.#files.values()) total += asset.gzip.length
    return total
  }

  send(name: string, request: FastifyRequest, reply: FastifyReply): FastifyReply {
    const asset = this.#files.get(name)!
    const gzip = /\bgzip\b/.test(String(request.headers['accept-encoding'] ?? ''))
    reply.header('content-type', asset.type)
    reply.header('content-security-policy', PAGE_CSP)
    reply.header('referrer-policy', 'no-referrer')
    reply.header('cache-control', 'no-cache')
    reply.header('vary', 'accept-encoding')
    if (gzip) reply.header('content-encoding', 'gzip')
    return reply.send(gzip ? asset.gzip : asset.raw)
  }
}
