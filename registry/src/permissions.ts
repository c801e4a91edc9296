// A skill's permissions: what its manifest asks for (`robutler.permissions`), what the operator granted (the
// `grant` of its config entry), and what is asked beyond the grant. A skill gets nothing it did not declare and
// was not granted; an upgrade that asks for more is refused until the operator grants it again.
import { realpath } from 'node:fs/promises'
import { resolve, sep } from 'node:path'

/** The kernel capabilities a skill may ask for beyond its own parts. Anything else is refused by the schema. */
export const KERNEL_PERMISSIONS = {
  /** Declare `access` in its parts: require an identity on its agent, name its owner and admins (skill-auth). */
  access: 'set who may use its agent (require an identity, name the owner and admins)',
  /** Add health checks that `/ready` runs: a failing one takes the whole server out of a load balancer (skill-mcp). */
  health: 'add checks to /ready (a failing check makes the whole server not ready)',
} as const

export type KernelPermission = keyof typeof KERNEL_PERMISSIONS

/** What a skill declares, and what a grant holds: the same three lists. */
export interface Permissions {
  /** Environment variables it may read. */
  env: string[]
  /** Hosts it will call (`api.example.com`, `*.example.com`, `host:port`, or `*` for hosts its config names). */
  network: string[]
  kernel: KernelPermission[]
}

export const ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/
export const HOST_PATTERN = /^(?:\*|(?:\*\.)?[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*(?::\d{1,5})?)$/

const list = (items: object) => ({ type: 'array', items, uniqueItems: true })

/** JSON Schema of `robutler.permissions` and of a config entry's `grant`: unknown keys and values are refused. */
export const PERMISSIONS_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    env: list({ type: 'string', pattern: ENV_NAME_PATTERN.source }),
    network: list({ type: 'string', pattern: HOST_PATTERN.source }),
    kernel: list({ enum: Object.keys(KERNEL_PERMISSIONS) }),
  },
} as const

export const NO_PERMISSIONS: Readonly<Permissions> = Object.freeze({ env: [], network: [], kernel: [] })

/** A declared or granted value with every list present (a validated shape: unknown keys were refused before). */
export function permissionsOf(raw: unknown): Permissions {
  const value = (typeof raw === 'object' && raw !== null ? raw : {}) as Partial<Permissions>
  return { env: [...(value.env ?? [])], network: [...(value.network ?? [])], kernel: [...(value.kernel ?? [])] }
}

/** What `declared` asks for that `granted` does not hold, list by list; null when the grant covers it. */
export function ungranted(declared: Permissions, granted: Permissions): Permissions | null {
  const missing: Permissions = {
    env: declared.env.filter((name) => !granted.env.includes(name)),
    network: declared.network.filter((host) => !granted.network.includes(host)),
    kernel: declared.kernel.filter((name) => !granted.kernel.includes(name)),
  }
  return missing.env.length + missing.network.length + missing.kernel.length === 0 ? null : missing
}

/** True when nothing is asked for. */
export function isEmptyPermissions(permissions: Permissions): boolean {
  return permissions.env.length + permissions.network.length + permissions.kernel.length === 0
}

/**
 * One line per kind, for `skills info`/`add` and for errors: `env: A, B; network: api.x.com; kernel: health`.
 * @example
 * describePermissions({ env: ['WEATHER_KEY'], network: [], kernel: [] }) // 'env: WEATHER_KEY'
 */
export function describePermissions(permissions: Permissions): string {
  const parts: string[] = []
  if (permissions.env.length > 0) parts.push(`env: ${permissions.env.join(', ')}`)
  if (permissions.network.length > 0) parts.push(`network: ${permissions.network.map((host) => (host === '*' ? '* (hosts its config names)' : host)).join(', ')}`)
  if (permissions.kernel.length > 0) parts.push(`kernel: ${permissions.kernel.join(', ')}`)
  return parts.length > 0 ? parts.join('; ') : 'none'
}

/** True for a first-party package (`@robutler/…`): trusted as the kernel is, isolated only when asked. */
export function isFirstParty(name: string): boolean {
  return name.startsWith('@robutler/')
}

/**
 * Why a manifest path (`worker`, `config`) does not stay inside its package, or null when it does. Checked on the
 * text (absolute, `..` segments) here and again on the real path (symlinks) where the file is opened.
 */
export function pathOutsidePackage(path: string): string | null {
  if (path.startsWith('/') || path.startsWith('\\') || /^[A-Za-z]:/.test(path)) return 'it is absolute'
  const segments = path.split(/[\\/]+/)
  let depth = 0
  for (const segment of segments) {
    if (segment === '..') depth--
    else if (segment !== '.' && segment !== '') depth++
    if (depth < 0) return 'it leaves the package folder (..)'
  }
  return null
}

/**
 * The absolute path of a manifest path inside the package folder `dir`, symlinks resolved; an error sentence when
 * it escapes (as text or through a link) or does not exist. Nothing outside the package is read or quoted.
 */
export async function packagePath(dir: string, path: string): Promise<{ file: string } | { error: string; missing?: boolean }> {
  const outside = pathOutsidePackage(path)
  if (outside !== null) return { error: `${path} is outside the package: ${outside}` }
  let root: string
  let file: string
  try {
    root = await realpath(dir)
    file = await realpath(resolve(dir, path))
  } catch {
    return { error: `${path} does not exist`, missing: true }
  }
  if (file !== root && !file.startsWith(root + sep)) return { error: `${path} is outside the package: a link leads out of it` }
  return { file }
}
