// The config as text, for editing it in place: jsonc-parser (the parser VS Code uses) says where every value sits
// — comments and trailing commas allowed, as in tsconfig.json — and the edits here insert or remove one member
// the way the file is written (its order, indentation, line ends and comments stay the author's). jsonc-parser's
// own `modify` re-formats the neighbours of an edit (an inline object spread over lines, a comment moved to the
// new member), so the edits are ours.
import { parseTree, printParseErrorCode, type Node, type ParseError } from 'jsonc-parser'

export interface JsonMember {
  key: string
  /** Offset of the key's opening quote. */
  keyStart: number
  value: JsonNode
}

export type JsonNode =
  | { type: 'object'; start: number; end: number; members: JsonMember[] }
  | { type: 'array'; start: number; end: number; items: JsonNode[] }
  | { type: 'scalar'; start: number; end: number; value: unknown }

type ObjectNode = Extract<JsonNode, { type: 'object' }>

/** 1-based line:column of an offset. */
export function lineColumn(text: string, offset: number): string {
  const before = text.slice(0, offset)
  return `${before.split('\n').length}:${offset - (before.lastIndexOf('\n') + 1) + 1}`
}

function convert(node: Node): JsonNode {
  const start = node.offset
  const end = node.offset + node.length
  if (node.type === 'object') {
    const members = (node.children ?? []).flatMap((property) => {
      const [key, value] = property.children ?? []
      return key && value ? [{ key: String(key.value), keyStart: key.offset, value: convert(value) }] : []
    })
    return { type: 'object', start, end, members }
  }
  if (node.type === 'array') return { type: 'array', start, end, items: (node.children ?? []).map(convert) }
  return { type: 'scalar', start, end, value: node.value }
}

/**
 * Parses JSON text — with `//` and `/* *\/` comments and trailing commas — into a tree of positioned nodes.
 * Throws a SyntaxError naming the line:column of the first problem.
 */
export function parseJsonText(text: string): JsonNode {
  const errors: ParseError[] = []
  const root = parseTree(text, errors, { allowTrailingComma: true, disallowComments: false })
  const first = errors[0]
  if (first) throw new SyntaxError(`${printParseErrorCode(first.error)} at line ${lineColumn(text, first.offset)}`)
  if (!root) throw new SyntaxError('no JSON value in the text')
  return convert(root)
}

/** The member `key` of an object node, if any. */
export function memberOf(node: JsonNode | undefined, key: string): JsonMember | undefined {
  return node?.type === 'object' ? node.members.find((member) => member.key === key) : undefined
}

/** What one edit does to the text: replace [start, end) with `text`. */
export interface TextEdit {
  start: number
  end: number
  text: string
}

export function applyEdits(source: string, edits: readonly TextEdit[]): string {
  // From the end backwards, so earlier offsets stay valid.
  return [...edits].sort((a, b) => b.start - a.start).reduce((text, edit) => text.slice(0, edit.start) + edit.text + text.slice(edit.end), source)
}

function lineStart(text: string, offset: number): number {
  return text.lastIndexOf('\n', offset - 1) + 1
}

function lineIndent(text: string, offset: number): string {
  return /^[ \t]*/.exec(text.slice(lineStart(text, offset)))![0]
}

function newlineOf(text: string): string {
  return text.includes('\r\n') ? '\r\n' : '\n'
}

/** One level of indentation as the file writes it (the first indented line), default two spaces. */
function indentUnit(text: string): string {
  const match = /\n([ \t]+)\S/.exec(text)
  return match ? match[1]! : '  '
}

/** What follows a value on its line: a trailing comma (its offset), and the offset where the line's text ends. */
function afterValue(text: string, end: number): { comma: number | null; lineEnd: number } {
  let at = end
  while (text[at] === ' ' || text[at] === '\t') at++
  const comma = text[at] === ',' ? at : null
  if (comma !== null) at++
  while (text[at] === ' ' || text[at] === '\t') at++
  if (text.startsWith('//', at)) {
    const newline = text.indexOf('\n', at)
    at = newline < 0 ? text.length : newline
    if (text[at - 1] === '\r') at--
  } else if (text.startsWith('/*', at)) {
    const close = text.indexOf('*/', at + 2)
    at = close < 0 ? text.length : close + 2
  } else {
    at = comma !== null ? comma + 1 : end
  }
  return { comma, lineEnd: at }
}

/**
 * Inserts `"key": valueText` as the last member of `object`, written the way its other members are: on a line of
 * its own with their indentation when they are one a line, inline after a comma when the object is on one line.
 * A comment after the last member stays on that member's line; a trailing comma stays a trailing comma.
 */
export function insertMember(text: string, object: ObjectNode, key: string, valueText: string): TextEdit[] {
  const member = `${JSON.stringify(key)}: ${valueText}`
  const newline = newlineOf(text)
  const last = object.members.at(-1)
  if (!last) {
    const inner = text.slice(object.start + 1, object.end - 1)
    if (!inner.includes('\n')) return [{ start: object.start, end: object.end, text: `{ ${member} }` }]
    const outer = lineIndent(text, object.start)
    if (!/\/[/*]/.test(inner)) return [{ start: object.start, end: object.end, text: `{${newline}${outer}${indentUnit(text)}${member}${newline}${outer}}` }]
    // Only comments inside: the member goes after them, before the closing brace's line.
    const close = object.end - 1
    const from = close - /[ \t\r\n]*$/.exec(inner)![0].length
    return [{ start: from, end: close, text: `${newline}${outer}${indentUnit(text)}${member}${newline}${outer}` }]
  }
  const multiline = text.slice(object.start, last.keyStart).includes('\n')
  const { comma, lineEnd } = afterValue(text, last.value.end)
  if (!multiline) {
    if (comma !== null) return [{ start: comma + 1, end: comma + 1, text: ` ${member},` }]
    return [{ start: last.value.end, end: last.value.end, text: `, ${member}` }]
  }
  const line = `${newline}${lineIndent(text, last.keyStart)}${member}`
  if (comma !== null) return [{ start: lineEnd, end: lineEnd, text: `${line},` }]
  if (lineEnd === last.value.end) return [{ start: lineEnd, end: lineEnd, text: `,${line}` }]
  return [
    { start: last.value.end, end: last.value.end, text: ',' },
    { start: lineEnd, end: lineEnd, text: line },
  ]
}

/**
 * Removes member `index` of `object` with its comma, leaving the others as they were written. In an object written
 * one member a line, the member's lines go whole, with a comment at the end of its last line.
 */
export function removeMember(text: string, object: ObjectNode, index: number): TextEdit[] {
  const members = object.members
  const member = members[index]!
  if (members.length === 1) return [{ start: object.start + 1, end: object.end - 1, text: '' }]
  const ownLine = text.slice(lineStart(text, member.keyStart), member.keyStart).trim() === '' && text.slice(object.start, member.keyStart).includes('\n')
  if (ownLine) {
    const { comma, lineEnd } = afterValue(text, member.value.end)
    const next = text.indexOf('\n', lineEnd)
    const restOfLine = text.slice(lineEnd, next < 0 ? text.length : next).trim()
    if (restOfLine === '' || restOfLine === '\r') {
      const edits: TextEdit[] = [{ start: lineStart(text, member.keyStart), end: next < 0 ? text.length : next + 1, text: '' }]
      // The last member goes without a comma of its own: the one before it loses its comma (unless the file
      // writes trailing commas).
      if (index === members.length - 1 && comma === null) {
        const previous = afterValue(text, members[index - 1]!.value.end)
        if (previous.comma !== null) edits.push({ start: previous.comma, end: previous.comma + 1, text: '' })
      }
      return edits
    }
  }
  if (index > 0) return [{ start: members[index - 1]!.value.end, end: member.value.end, text: '' }]
  return [{ start: member.keyStart, end: members[1]!.keyStart, text: '' }]
}
