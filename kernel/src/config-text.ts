// Config files as text: JSON with comments and trailing commas (JSONC, as tsconfig.json), parsed with the parser
// VS Code uses, and every position said as file:line:column, so a problem points at the line to fix.
import { findNodeAtLocation, parseTree, printParseErrorCode, type Node, type ParseError } from 'jsonc-parser'
import type { Problem } from '@robutler/registry'
import { ERR_CONFIG_INVALID } from './errors.js'

export type JsonPath = ReadonlyArray<string | number>

/** Where a config value comes from: its file, and the line:column of any JSON path in it. */
export interface ConfigSource {
  file: string
  /** `file:line:column` of the value at `path` (of its key, with `key`), or the file alone when it is not there. */
  locate(path: JsonPath, options?: { key?: boolean }): string
}

const SYNTAX: Record<string, string> = {
  InvalidSymbol: 'unexpected character',
  InvalidNumberFormat: 'not a number',
  PropertyNameExpected: 'expected a property name in double quotes',
  ValueExpected: 'expected a value',
  ColonExpected: "expected ':'",
  CommaExpected: "expected ','",
  CloseBraceExpected: "expected '}'",
  CloseBracketExpected: "expected ']'",
  EndOfFileExpected: 'unexpected text after the config object',
  InvalidCommentToken: 'unfinished comment',
  UnexpectedEndOfComment: 'unfinished comment',
  UnexpectedEndOfString: 'unfinished string',
  UnexpectedEndOfNumber: 'unfinished number',
  InvalidUnicode: 'invalid \\u escape',
  InvalidEscapeCharacter: 'invalid escape character',
  InvalidCharacter: 'invalid character in a string (a raw newline or tab?)',
}

/** 1-based line and column of an offset. */
function position(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset)
  const line = before.split('\n').length
  return { line, column: offset - (before.lastIndexOf('\n') + 1) + 1 }
}

/** The line holding `offset`, numbered, with a caret under the offset. */
function excerpt(text: string, offset: number): string {
  const { line, column } = position(text, offset)
  const source = (text.split('\n')[line - 1] ?? '').replace(/\r$/, '').replace(/\t/g, ' ')
  const gutter = `${line} | `
  return `    ${gutter}${source}\n    ${' '.repeat(gutter.length - 2)}| ${' '.repeat(column - 1)}^`
}

export interface ParsedConfigText {
  /** The parsed value (undefined when the text is not JSONC at all). */
  value: unknown
  /** Syntax errors, each at its line:column with the line shown. */
  problems: Problem[]
  source: ConfigSource
}

/**
 * Parses a config's text as JSONC: `//` and `/* *\/` comments and trailing commas are allowed.
 *
 * @example
 * const { value, problems, source } = parseConfigText(text, '/etc/robutler/robutler.config.json')
 * source.locate(['agents', 0, 'name']) // '/etc/robutler/robutler.config.json:7:15'
 */
export function parseConfigText(text: string, file: string): ParsedConfigText {
  const errors: ParseError[] = []
  const root: Node | undefined = parseTree(text, errors, { allowTrailingComma: true, disallowComments: false })
  const at = (offset: number) => {
    const { line, column } = position(text, offset)
    return `${file}:${line}:${column}`
  }
  const source: ConfigSource = {
    file,
    locate(path, options = {}) {
      if (!root) return file
      const node = findNodeAtLocation(root, [...path])
      if (!node) return path.length > 0 ? this.locate(path.slice(0, -1)) : file
      const keyNode = options.key && node.parent?.type === 'property' ? node.parent.children?.[0] : undefined
      return at((keyNode ?? node).offset)
    },
  }
  const problems = errors.map((error) => {
    const what = SYNTAX[printParseErrorCode(error.error)] ?? printParseErrorCode(error.error)
    return toProblem(ERR_CONFIG_INVALID.code, `${at(error.offset)}: not valid JSON: ${what}\n${excerpt(text, error.offset)}`,
      'fix the syntax at that line (JSON with // comments and trailing commas is fine)')
  })
  let value: unknown
  if (root && errors.length === 0) value = nodeValue(root)
  return { value, problems, source }
}

/** The plain value of a parse tree node (jsonc-parser's getNodeValue, without prototype keys from the text). */
function nodeValue(node: Node): unknown {
  switch (node.type) {
    case 'object': {
      const out: Record<string, unknown> = {}
      for (const property of node.children ?? []) {
        const [key, value] = property.children ?? []
        if (key && value) Object.defineProperty(out, String(key.value), { value: nodeValue(value), enumerable: true, writable: true, configurable: true })
      }
      return out
    }
    case 'array':
      return (node.children ?? []).map(nodeValue)
    default:
      return node.value
  }
}

/** A load-time problem with no package: the config's own. */
export function toProblem(code: string, message: string, hint?: string): Problem {
  return hint === undefined ? { code, message } : { code, message, hint }
}

/** A source for a config that has no text (a `.mjs` module, or options given in code): paths only, no lines. */
export function sourceWithoutText(file: string): ConfigSource {
  return { file, locate: () => file }
}
