// A JSON parser that remembers where every value sits in the text, so the config can be edited in place: a key
// inserted or removed without re-serialising the file (its order, indentation and line ends are the author's).

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

/** `end` is the offset just past the value. */
class Reader {
  at = 0
  constructor(readonly text: string) {}

  skipSpace(): void {
    while (this.at < this.text.length && /\s/.test(this.text[this.at]!)) this.at++
  }

  expect(char: string): void {
    this.skipSpace()
    if (this.text[this.at] !== char) throw new SyntaxError(`expected '${char}' at offset ${this.at}`)
    this.at++
  }

  string(): { value: string; start: number } {
    this.skipSpace()
    const start = this.at
    const match = /^"(?:[^"\\\u0000-\u001f]|\\.)*"/.exec(this.text.slice(start))
    if (!match) throw new SyntaxError(`expected a string at offset ${start}`)
    this.at += match[0].length
    return { value: JSON.parse(match[0]) as string, start }
  }

  value(): JsonNode {
    this.skipSpace()
    const start = this.at
    const char = this.text[start]
    if (char === '{') return this.object(start)
    if (char === '[') return this.array(start)
    if (char === '"') {
      const { value } = this.string()
      return { type: 'scalar', start, end: this.at, value }
    }
    const match = /^(?:true|false|null|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)/.exec(this.text.slice(start))
    if (!match) throw new SyntaxError(`unexpected '${char ?? 'end of text'}' at offset ${start}`)
    this.at += match[0].length
    return { type: 'scalar', start, end: this.at, value: JSON.parse(match[0]) }
  }

  object(start: number): JsonNode {
    this.at++
    const members: JsonMember[] = []
    this.skipSpace()
    if (this.text[this.at] === '}') {
      this.at++
      return { type: 'object', start, end: this.at, members }
    }
    for (;;) {
      const key = this.string()
      this.expect(':')
      members.push({ key: key.value, keyStart: key.start, value: this.value() })
      this.skipSpace()
      const next = this.text[this.at++]
      if (next === '}') return { type: 'object', start, end: this.at, members }
      if (next !== ',') throw new SyntaxError(`expected ',' or '}' at offset ${this.at - 1}`)
    }
  }

  array(start: number): JsonNode {
    this.at++
    const items: JsonNode[] = []
    this.skipSpace()
    if (this.text[this.at] === ']') {
      this.at++
      return { type: 'array', start, end: this.at, items }
    }
    for (;;) {
      items.push(this.value())
      this.skipSpace()
      const next = this.text[this.at++]
      if (next === ']') return { type: 'array', start, end: this.at, items }
      if (next !== ',') throw new SyntaxError(`expected ',' or ']' at offset ${this.at - 1}`)
    }
  }
}

/** Parses JSON text into a tree of positioned nodes. Throws a SyntaxError for text that is not JSON. */
export function parseJsonText(text: string): JsonNode {
  const reader = new Reader(text)
  const root = reader.value()
  reader.skipSpace()
  if (reader.at !== text.length) throw new SyntaxError(`unexpected text after the JSON value at offset ${reader.at}`)
  return root
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

function lineIndent(text: string, offset: number): string {
  const lineStart = text.lastIndexOf('\n', offset - 1) + 1
  return /^[ \t]*/.exec(text.slice(lineStart))![0]
}

function newlineOf(text: string): string {
  return text.includes('\r\n') ? '\r\n' : '\n'
}

/** One level of indentation as the file writes it (the first indented line), default two spaces. */
function indentUnit(text: string): string {
  const match = /\n([ \t]+)\S/.exec(text)
  return match ? match[1]! : '  '
}

/**
 * Inserts `"key": valueText` as the last member of `object`, written the way its other members are: on a line of
 * its own with their indentation when they are one a line, inline after a comma when the object is on one line.
 */
export function insertMember(text: string, object: Extract<JsonNode, { type: 'object' }>, key: string, valueText: string): TextEdit {
  const member = `${JSON.stringify(key)}: ${valueText}`
  const last = object.members.at(-1)
  if (!last) {
    const inner = text.slice(object.start + 1, object.end - 1)
    if (!inner.includes('\n')) return { start: object.start, end: object.end, text: `{ ${member} }` }
    const newline = newlineOf(text)
    const outer = lineIndent(text, object.start)
    return { start: object.start, end: object.end, text: `{${newline}${outer}${indentUnit(text)}${member}${newline}${outer}}` }
  }
  const multiline = text.slice(object.start, last.keyStart).includes('\n')
  if (!multiline) return { start: last.value.end, end: last.value.end, text: `, ${member}` }
  return { start: last.value.end, end: last.value.end, text: `,${newlineOf(text)}${lineIndent(text, last.keyStart)}${member}` }
}

/** Removes member `index` of `object` with its comma, leaving the others as they were written. */
export function removeMember(object: Extract<JsonNode, { type: 'object' }>, index: number): TextEdit {
  const members = object.members
  const member = members[index]!
  if (members.length === 1) return { start: object.start + 1, end: object.end - 1, text: '' }
  if (index > 0) return { start: members[index - 1]!.value.end, end: member.value.end, text: '' }
  return { start: member.keyStart, end: members[1]!.keyStart, text: '' }
}
