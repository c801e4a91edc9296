// Exact rational numbers over bigint: what `calculate` computes with, so 0.1 + 0.2 is 0.3 and 2^64 is exact.

/** n/d in lowest terms, d > 0. */
export interface Rational {
  readonly n: bigint
  readonly d: bigint
}

// About 3,000 decimal digits: past it a calculation is refused rather than left to eat memory and time.
const LIMIT_BITS = 10_000
const LIMIT = 1n << BigInt(LIMIT_BITS)
/** Digits shown for a result whose decimal expansion does not end. */
const SIGNIFICANT = 20

function abs(x: bigint): bigint {
  return x < 0n ? -x : x
}

function gcd(a: bigint, b: bigint): bigint {
  a = abs(a)
  b = abs(b)
  while (b !== 0n) [a, b] = [b, a % b]
  return a
}

function digits(x: bigint): number {
  return x.toString().length
}

export function rational(n: bigint, d: bigint = 1n): Rational {
  if (d === 0n) throw new Error('Division by zero')
  if (d < 0n) {
    n = -n
    d = -d
  }
  const g = gcd(n, d)
  if (g > 1n) {
    n /= g
    d /= g
  }
  if (abs(n) >= LIMIT || d >= LIMIT) throw new Error('A number in this calculation has more than 3,000 digits; it is too large to compute exactly')
  return { n, d }
}

/** Parses `12`, `12.5`, `.5`, and (for float results) `1.5e-7`. */
export function parseDecimal(text: string): Rational {
  const match = /^(-?)(\d*)(?:\.(\d*))?(?:e([+-]?\d+))?$/i.exec(text)
  if (!match || (match[2] === '' && (match[3] ?? '') === '')) throw new Error(`'${text}' is not a number`)
  const [, sign, whole, fraction = '', exponent = '0'] = match
  let n = BigInt(`${sign}${whole}${fraction}` || '0')
  let d = 10n ** BigInt(fraction.length)
  const shift = Number(exponent)
  if (shift > 0) n *= 10n ** BigInt(shift)
  else if (shift < 0) d *= 10n ** BigInt(-shift)
  return rational(n, d)
}

export function add(a: Rational, b: Rational): Rational {
  return rational(a.n * b.d + b.n * a.d, a.d * b.d)
}

export function subtract(a: Rational, b: Rational): Rational {
  return rational(a.n * b.d - b.n * a.d, a.d * b.d)
}

export function multiply(a: Rational, b: Rational): Rational {
  return rational(a.n * b.n, a.d * b.d)
}

export function divide(a: Rational, b: Rational): Rational {
  if (b.n === 0n) throw new Error('Division by zero')
  return rational(a.n * b.d, a.d * b.n)
}

/** The remainder with the sign of the dividend, as JavaScript's `%`. */
export function remainder(a: Rational, b: Rational): Rational {
  if (b.n === 0n) throw new Error('Division by zero (modulo)')
  const quotient = (a.n * b.d) / (a.d * b.n) // bigint division truncates toward zero
  return subtract(a, multiply(b, rational(quotient)))
}

export function negate(a: Rational): Rational {
  return { n: -a.n, d: a.d }
}

/** Exact for integer exponents; a non-integer exponent is computed in double precision. */
export function power(base: Rational, exponent: Rational): Rational {
  if (exponent.d !== 1n) {
    const value = Math.pow(toNumber(base), toNumber(exponent))
    if (Number.isNaN(value)) throw new Error(`${format(base)} ^ ${format(exponent)} is not a real number`)
    if (!Number.isFinite(value)) throw new Error(`${format(base)} ^ ${format(exponent)} is too large to compute`)
    return parseDecimal(String(value))
  }
  const e = abs(exponent.n)
  if (exponent.n < 0n && base.n === 0n) throw new Error('Division by zero (zero to a negative power)')
  // 0, 1 and -1 stay small under any power; bigint ** would still refuse a huge exponent.
  if (base.d === 1n && abs(base.n) <= 1n) {
    if (e === 0n) return rational(1n)
    return base.n === -1n && e % 2n === 0n ? rational(1n) : base
  }
  // Estimate the size before computing: 7 ^ 1e9 must be refused, not attempted.
  const bits = BigInt(Math.max(abs(base.n).toString(2).length, base.d.toString(2).length) - 1)
  if (bits * e > BigInt(LIMIT_BITS)) throw new Error('The result has more than 3,000 digits; it is too large to compute exactly')
  const raised = rational(base.n ** e, base.d ** e)
  return exponent.n < 0n ? rational(raised.d, raised.n) : raised
}

export function toNumber(a: Rational): number {
  return Number(format(a))
}

function withPoint(value: bigint, places: number): string {
  if (places === 0) return value.toString()
  const text = value.toString().padStart(places + 1, '0')
  const fraction = text.slice(-places).replace(/0+$/, '')
  return fraction === '' ? text.slice(0, -places) : `${text.slice(0, -places)}.${fraction}`
}

/** Plain decimal notation: exact when the expansion ends, else rounded (half up) to 20 significant digits. */
export function format(a: Rational): string {
  if (a.d === 1n) return a.n.toString()
  const sign = a.n < 0n ? '-' : ''
  const n = abs(a.n)
  let rest = a.d
  let twos = 0
  let fives = 0
  while (rest % 2n === 0n) {
    rest /= 2n
    twos++
  }
  while (rest % 5n === 0n) {
    rest /= 5n
    fives++
  }
  if (rest === 1n) {
    const places = Math.max(twos, fives)
    return sign + withPoint((n * 10n ** BigInt(places)) / a.d, places)
  }
  // n/d · 10^places has SIGNIFICANT or SIGNIFICANT + 1 digits before the point; trim to exactly SIGNIFICANT.
  let places = SIGNIFICANT - (digits(n) - digits(a.d))
  if (places > 0 && digits((n * 10n ** BigInt(places)) / a.d) > SIGNIFICANT) places--
  places = Math.max(places, 0)
  const scaled = n * 10n ** BigInt(places)
  return sign + withPoint((2n * scaled + a.d) / (2n * a.d), places)
}
