// The brand that definePlugin/defineSkill put on a package's default export. Symbol.for, not Symbol(), so two
// copies of the kernel (a linked workspace and an installed one) still recognise each other's definitions.
import type { PackageKind } from './types.js'

export const PACKAGE_BRAND: unique symbol = Symbol.for('robutler.package')

/** True when `value` is an object whose `[PACKAGE_BRAND]` is `kind`. */
export function isBranded(value: unknown, kind: PackageKind): value is { readonly [PACKAGE_BRAND]: PackageKind } {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[PACKAGE_BRAND] === kind
}
