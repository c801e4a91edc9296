// The config text editor (cli/src/marketplace/json-text.ts) on its own: where the parser (jsonc-parser) says each
// value sits, and what one insert or removal does to the text around it, comments included. test/marketplace.test.ts edits whole configs through it.
import { describe, expect, it } from 'vitest'
import { applyEdits, insertMember, memberOf, parseJsonText, removeMember, type JsonNode } from '../cli/src/marketplace/json-text.js'

type ObjectNode = Extract<JsonNode, { type: 'object' }>

function object(text: string, ...path: string[]): ObjectNode {
  let node: JsonNode | undefined = parseJsonText(text)
  for (const key of path) node = memberOf(node, key)?.value
  if (node?.type !== 'object') throw new Error(`no object at ${path.join('.')}`)
  return node
}

function insert(text: string, key: string, valueText: string, ...path: string[]): string {
  return applyEdits(text, insertMember(text, object(text, ...path), key, valueText))
}

function remove(text: string, key: string, ...path: string[]): string {
  const parent = object(text, ...path)
  return applyEdits(text, removeMember(text, parent, parent.members.findIndex((member) => member.key === key)))
}

describe('parseJsonText', () => {
  it('answers every node with its offsets: start at its first character, end just past it', () => {
    const text = ' { "a" : [1, "two", {"b": null}], "c": -1.5e3 } '
    const root = parseJsonText(text)
    expect(root).toMatchObject({ type: 'object', start: 1, end: text.length - 1 })
    const a = memberOf(root, 'a')!
    expect(a.keyStart).toBe(text.indexOf('"a"'))
    expect(a.value.type).toBe('array')
    expect(text.slice(a.value.start, a.value.end)).toBe('[1, "two", {"b": null}]')
    const items = (a.value as Extract<JsonNode, { type: 'array' }>).items
    expect(items.map((item) => text.slice(item.start, item.end))).toEqual(['1', '"two"', '{"b": null}'])
    expect(items.slice(0, 2)).toMatchObject([{ type: 'scalar', value: 1 }, { type: 'scalar', value: 'two' }])
    expect(memberOf(items[2], 'b')?.value).toMatchObject({ type: 'scalar', value: null })
    expect(memberOf(root, 'c')?.value).toMatchObject({ type: 'scalar', value: -1500 })
  })

  it('reads escapes in keys and strings as JSON does', () => {
    const root = parseJsonText('{"say \\"hi\\"": "tab\\there \\u00e9"}')
    expect(memberOf(root, 'say "hi"')?.value).toMatchObject({ value: 'tab\there é' })
  })

  it('parses empty objects and arrays, and a bare scalar', () => {
    expect(parseJsonText('{ }')).toEqual({ type: 'object', start: 0, end: 3, members: [] })
    expect(parseJsonText('[\n]')).toEqual({ type: 'array', start: 0, end: 3, items: [] })
    expect(parseJsonText('true')).toEqual({ type: 'scalar', start: 0, end: 4, value: true })
  })

  it('reads comments and trailing commas as tsconfig.json does', () => {
    const text = '{\n  // the agents\n  "a": [1, 2,], /* two */\n  "b": { "c": true, },\n}\n'
    const root = parseJsonText(text)
    expect(memberOf(root, 'a')?.value).toMatchObject({ type: 'array', items: [{ value: 1 }, { value: 2 }] })
    expect(memberOf(memberOf(root, 'b')?.value, 'c')?.value).toMatchObject({ value: true })
  })

  it.each([
    ['{"a" 1}', 'ColonExpected at line 1:6'],
    ['{"a": 1 "b": 2}', 'CommaExpected at line 1:9'],
    ['[1 2]', 'CommaExpected at line 1:4'],
    ['{\n  "a": nope\n}', 'InvalidSymbol at line 2:8'],
    ['{} {}', 'EndOfFileExpected at line 1:4'],
  ])('refuses %j with a SyntaxError naming the line:column', (text, message) => {
    expect(() => parseJsonText(text)).toThrow(new SyntaxError(message))
  })
})

describe('memberOf', () => {
  it('finds a member of an object, and nothing in other nodes or missing ones', () => {
    const root = parseJsonText('{"a": {"b": 1}, "list": [{"b": 2}]}')
    expect(memberOf(root, 'a')?.key).toBe('a')
    expect(memberOf(root, 'missing')).toBeUndefined()
    expect(memberOf(memberOf(root, 'list')?.value, 'b')).toBeUndefined()
    expect(memberOf(undefined, 'a')).toBeUndefined()
  })
})

describe('applyEdits', () => {
  it('applies edits in any order given, each at the offsets of the original text', () => {
    const edits = [
      { start: 0, end: 1, text: 'A' },
      { start: 4, end: 4, text: '!' },
      { start: 2, end: 3, text: 'CC' },
    ]
    expect(applyEdits('abcd', edits)).toBe('AbCCd!')
    expect(applyEdits('abcd', [...edits].reverse())).toBe('AbCCd!')
    expect(applyEdits('abcd', [])).toBe('abcd')
  })
})

describe('insertMember', () => {
  it('adds to a one-line object inline, after a comma', () => {
    expect(insert('{ "a": 1 }', 'b', '{}')).toBe('{ "a": 1, "b": {} }')
    expect(insert('{"a":1}', 'b', '2')).toBe('{"a":1, "b": 2}')
  })

  it('fills an empty one-line object inline', () => {
    expect(insert('{"skills": {}}', 'x', '{}', 'skills')).toBe('{"skills": { "x": {} }}')
  })

  it('adds to a multi-line object on a line of its own, indented as the last member', () => {
    const text = '{\n    "a": 1,\n    "b": [\n        2\n    ]\n}\n'
    expect(insert(text, 'c', 'true')).toBe('{\n    "a": 1,\n    "b": [\n        2\n    ],\n    "c": true\n}\n')
  })

  it('keeps CRLF line ends and tab indentation', () => {
    expect(insert('{\r\n\t"a": 1\r\n}', 'b', '2')).toBe('{\r\n\t"a": 1,\r\n\t"b": 2\r\n}')
  })

  it('fills an empty multi-line object one level deeper than its line, in the file’s indentation unit', () => {
    const text = '{\n    "plugins": {\n    },\n    "x": 1\n}'
    expect(insert(text, 'p', '{}', 'plugins')).toBe('{\n    "plugins": {\n        "p": {}\n    },\n    "x": 1\n}')
  })

  it('quotes the key as JSON', () => {
    expect(insert('{}', 'say "hi"', '1')).toBe('{ "say \\"hi\\"": 1 }')
  })
})

describe('comments stay where the author wrote them', () => {
  it('a comment after the last member stays on its line; the new member goes below it', () => {
    const text = '{\n  "a": 1 // one\n}\n'
    expect(insert(text, 'b', '2')).toBe('{\n  "a": 1, // one\n  "b": 2\n}\n')
    expect(insert('{\n  "a": 1 /* one */\n}', 'b', '2')).toBe('{\n  "a": 1, /* one */\n  "b": 2\n}')
  })

  it('a trailing comma stays a trailing comma', () => {
    expect(insert('{\n  "a": 1, // one\n}', 'b', '2')).toBe('{\n  "a": 1, // one\n  "b": 2,\n}')
    expect(insert('{ "a": 1, }', 'b', '2')).toBe('{ "a": 1, "b": 2, }')
  })

  it('an object holding only comments gets the member after them', () => {
    expect(insert('{\n  "p": {\n    // none yet\n  }\n}', 'x', '{}', 'p')).toBe('{\n  "p": {\n    // none yet\n    "x": {}\n  }\n}')
  })

  it('removing a member takes its line and its comment, and leaves the neighbours’ comments', () => {
    const text = '{\n  // plugins\n  "a": 1, // first\n  "b": 2, // second\n  "c": 3 // third\n}\n'
    expect(remove(text, 'b')).toBe('{\n  // plugins\n  "a": 1, // first\n  "c": 3 // third\n}\n')
    expect(remove(text, 'c')).toBe('{\n  // plugins\n  "a": 1 // first\n  "b": 2 // second\n}\n'.replace('"a": 1 // first', '"a": 1, // first'))
    expect(remove(text, 'a')).toBe('{\n  // plugins\n  "b": 2, // second\n  "c": 3 // third\n}\n')
  })
})

describe('removeMember', () => {
  const text = '{\n  "a": 1,\n  "b": { "c": 2 },\n  "d": 3\n}'

  it('removes the first member with the comma after it', () => {
    expect(remove(text, 'a')).toBe('{\n  "b": { "c": 2 },\n  "d": 3\n}')
  })

  it('removes a middle or last member with the comma before it', () => {
    expect(remove(text, 'b')).toBe('{\n  "a": 1,\n  "d": 3\n}')
    expect(remove(text, 'd')).toBe('{\n  "a": 1,\n  "b": { "c": 2 }\n}')
  })

  it('empties an object whose only member it removes', () => {
    expect(remove(text, 'c', 'b')).toBe('{\n  "a": 1,\n  "b": {},\n  "d": 3\n}')
  })

  it('gives text that parses, for every member removed in turn', () => {
    for (const key of ['a', 'b', 'd']) expect(() => parseJsonText(remove(text, key))).not.toThrow()
  })
})
