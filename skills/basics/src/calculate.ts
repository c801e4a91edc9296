// `calculate`'s evaluator: a recursive-descent parser over exact rationals (never eval or Function).
//
//   expression := term (('+' | '-') term)*
//   term       := unary (('*' | '/' | '%') unary)*
//   unary      := ('-' | '+') unary | power
//   power      := primary (('^' | '**') unary)?      right-associative; -2^2 is -4, 2^-1 is 0.5
//   primary    := number | '(' expression ')'
import { add, divide, format, multiply, negate, parseDecimal, power, remainder, subtract, type Rational } from './rational.js'

/** Longer expressions are refused: they bound the parser's recursion depth. */
export const MAX_EXPRESSION_LENGTH = 1000

function isDigit(char: string): boolean {
  return char >= '0' && char <= '9'
}

class Parser {
  readonly #text: string
  #pos = 0

  constructor(text: string) {
    this.#text = text
  }

  parse(): Rational {
    const value = this.#expression()
    if (this.#peek() !== '') throw this.#unexpected()
    return value
  }

  // Skips whitespace and returns the next character, '' at the end.
  #peek(): string {
    while (this.#pos < this.#text.length && /\s/.test(this.#text[this.#pos])) this.#pos++
    return this.#pos < this.#text.length ? this.#text[this.#pos] : ''
  }

  #unexpected(): Error {
    const char = this.#peek()
    const what = char === '' ? 'it ends too early' : `unexpected '${char}' at position ${this.#pos + 1}`
    return new Error(`Malformed expression '${this.#text}': ${what}`)
  }

  #expression(): Rational {
    let value = this.#term()
    for (;;) {
      const op = this.#peek()
      if (op !== '+' && op !== '-') return value
      this.#pos++
      const right = this.#term()
      value = op === '+' ? add(value, right) : subtract(value, right)
    }
  }

  #term(): Rational {
    let value = this.#unary()
    for (;;) {
      const op = this.#peek()
      if ((op !== '*' && op !== '/' && op !== '%') || this.#text.startsWith('**', this.#pos)) return value
      this.#pos++
      const right = this.#unary()
      value = op === '*' ? multiply(value, right) : op === '/' ? divide(value, right) : remainder(value, right)
    }
  }

  #unary(): Rational {
    const op = this.#peek()
    if (op === '-' || op === '+') {
      this.#pos++
      const value = this.#unary()
      return op === '-' ? negate(value) : value
    }
    return this.#power()
  }

  #power(): Rational {
    const base = this.#primary()
    const op = this.#peek()
    if (op === '^') this.#pos++
    else if (this.#text.startsWith('**', this.#pos)) this.#pos += 2
    else return base
    return power(base, this.#unary())
  }

  #primary(): Rational {
    const char = this.#peek()
    if (char === '(') {
      this.#pos++
      const value = this.#expression()
      if (this.#peek() !== ')') throw this.#unexpected()
      this.#pos++
      return value
    }
    if (!isDigit(char) && char !== '.') throw this.#unexpected()
    const start = this.#pos
    while (isDigit(this.#text[this.#pos] ?? '')) this.#pos++
    if (this.#text[this.#pos] === '.') this.#pos++
    while (isDigit(this.#text[this.#pos] ?? '')) this.#pos++
    const literal = this.#text.slice(start, this.#pos)
    if (literal === '.') {
      this.#pos = start
      throw this.#unexpected()
    }
    return parseDecimal(literal)
  }
}

/**
 * Evaluates an arithmetic expression exactly and returns the number as a decimal string.
 * @example
 * evaluate('2 + 3 * 4')   // '14'
 * evaluate('0.1 + 0.2')   // '0.3'
 * evaluate('2 ^ 3 ^ 2')   // '512'
 */
export function evaluate(expression: string): string {
  if (expression.length > MAX_EXPRESSION_LENGTH) {
    throw new Error(`The expression is ${expression.length} characters long; the limit is ${MAX_EXPRESSION_LENGTH}`)
  }
  if (expression.trim() === '') throw new Error('The expression is empty')
  return format(new Parser(expression).parse())
}
