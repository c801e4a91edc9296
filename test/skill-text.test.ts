import { readFileSync } from 'node:fs'
import { Ajv } from 'ajv'
import { Tiktoken } from 'js-tiktoken/lite'
import cl100kBase from 'js-tiktoken/ranks/cl100k_base'
import o200kBase from 'js-tiktoken/ranks/o200k_base'
import { describe, expect, it } from 'vitest'
import type { KernelApi, SkillParts, SkillTool } from '@robutler/kernel'
import skill from '@robutler/skill-text'
import * as worker from '@robutler/skill-text/worker'
import { chunkText, countTokens, searchText } from '@robutler/skill-text/worker'

// ---------------------------------------------------------------- fixtures

function mulberry32(seed: number): () => number {
  let a = seed
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const VOCABULARY = (
  'the of and to in is that for it as with was on be by this are from at or an but not have all can which their ' +
  'more one time about there when use people other into these also such work only new first some could after two ' +
  'most between where because through system data model agent server request token chunk worker pool skill plugin ' +
  'kernel config schema route stream provider identity scope cache queue thread process memory network latency ' +
  'throughput benchmark deploy release version package registry manifest café naïve résumé 東京 データ über straße 🤖 ✓'
).split(' ')

/** A deterministic document of about `wordCount` words: sentences of 5–20 words, paragraphs of 3–7 sentences. */
function documentOf(wordCount: number, seed = 7): string {
  const random = mulberry32(seed)
  const pick = () => VOCABULARY[Math.floor(random() ** 1.5 * VOCABULARY.length)]
  let out = ''
  let count = 0
  while (count < wordCount) {
    const sentences = 3 + Math.floor(random() * 5)
    for (let s = 0; s < sentences && count < wordCount; s++) {
      const words = Array.from({ length: 5 + Math.floor(random() * 16) }, pick)
      words[0] = words[0][0].toUpperCase() + words[0].slice(1)
      count += words.length
      out += (s > 0 ? ' ' : '') + words.join(random() < 0.1 ? ', ' : ' ') + ['.', '.', '.', '!', '?'][Math.floor(random() * 5)]
    }
    out += '\n\n'
  }
  return out.trimEnd()
}

const document20k = documentOf(20_000)

const tokensOf = (text: string) => countTokens({ text }).tokens

async function setup(config: Record<string, unknown> = {}): Promise<SkillParts> {
  return skill.setup(config, {} as KernelApi)
}

// ---------------------------------------------------------------- countTokens

describe('countTokens', () => {
  // Verified once against js-tiktoken 1.0.21's Tiktoken.encode(text, [], []).
  it.each([
    ['hello world', 2, 2],
    ['Hello, world!', 4, 4],
    ['', 0, 0],
    [' ', 1, 1],
    ['The quick brown fox jumps over the lazy dog.', 10, 10],
    ['tokenization', 2, 2],
    ['日本語のテキスト', 8, 6],
    ['🤖 Robutler', 6, 5],
    ['<|endoftext|>', 7, 7],
    ['def f(x):\n    return x * 2\n', 11, 11],
  ])('counts %j as %i tokens in cl100k_base and %i in o200k_base', (text, cl100k, o200k) => {
    expect(countTokens({ text })).toEqual({ tokens: cl100k, encoding: 'cl100k_base' })
    expect(countTokens({ text, encoding: 'cl100k_base' })).toEqual({ tokens: cl100k, encoding: 'cl100k_base' })
    expect(countTokens({ text, encoding: 'o200k_base' })).toEqual({ tokens: o200k, encoding: 'o200k_base' })
  })

  it('agrees with js-tiktoken on mixed text, long unbroken runs and the generated document', () => {
    const references = { cl100k_base: new Tiktoken(cl100kBase), o200k_base: new Tiktoken(o200kBase) }
    const random = mulberry32(42)
    const alphabet = ['a', 'b', 'e', 't', 'h', ' ', '  ', '\n', '\n\n', '.', ',', 'é', '日', '🤖', '\u0301', '1', '23', "'s", '\t', 'Z', '\ud800', '<|endoftext|>']
    const samples: string[] = [document20k.slice(0, 20_000)]
    for (let k = 0; k < 400; k++) {
      // Every 20th sample is a long run of letters: pieces past 128 bytes take the heap merge.
      const length = Math.floor(random() * (k % 20 === 0 ? 900 : 40))
      const letters = k % 20 === 0
      let sample = ''
      for (let i = 0; i < length; i++) {
        sample += letters ? String.fromCharCode(97 + Math.floor(random() * 26)) : alphabet[Math.floor(random() * alphabet.length)]
      }
      samples.push(sample)
    }
    for (const [encoding, reference] of Object.entries(references)) {
      for (const text of samples) {
        expect(countTokens({ text, encoding: encoding as 'cl100k_base' | 'o200k_base' }).tokens, JSON.stringify(text.slice(0, 80))).toBe(
          reference.encode(text, [], []).length,
        )
      }
    }
  })

  it('counts a long run without spaces in about linear time', () => {
    // js-tiktoken's own merge is cubic here (20,000 letters took 33 s); this is a few milliseconds.
    expect(tokensOf('a'.repeat(200_000))).toBe(25_000)
  })

  it('refuses a text over 5,000,000 characters and an unknown encoding', () => {
    expect(() => countTokens({ text: 'a'.repeat(5_000_001) })).toThrow(/5000001 characters long; the limit is 5000000/)
    expect(() => countTokens({ text: 'hi', encoding: 'p50k_base' as 'cl100k_base' })).toThrow(/encoding must be one of cl100k_base, o200k_base/)
    expect(() => countTokens({ text: 42 as unknown as string })).toThrow(/text must be a string/)
    expect(() => countTokens(null as unknown as { text: string })).toThrow(/takes one object/)
  })
})

// ---------------------------------------------------------------- chunkText

describe('chunkText', () => {
  const total = tokensOf(document20k)

  it.each([
    [256, 32],
    [100, 0],
    [50, 10],
    [8192, 100],
  ])('cuts the 20k-word document into chunks of at most %i tokens with %i of overlap', (maxTokens, overlap) => {
    const { chunks } = chunkText({ text: document20k, maxTokens, overlap })
    expect(chunks.length).toBeGreaterThan(1)
    expect(chunks[0].start).toBe(0)
    expect(chunks.at(-1)!.end).toBe(document20k.length)
    chunks.forEach((chunk, i) => {
      expect(chunk.index).toBe(i)
      expect(chunk.text).toBe(document20k.slice(chunk.start, chunk.end))
      expect(chunk.tokens).toBe(tokensOf(chunk.text))
      expect(chunk.tokens).toBeLessThanOrEqual(maxTokens)
      // Cuts are made in the last 20% of the window.
      if (i < chunks.length - 1) expect(chunk.tokens).toBeGreaterThanOrEqual(Math.floor(maxTokens * 0.8) - 2)
    })
    let overlapping = 0
    for (let i = 1; i < chunks.length; i++) {
      const [previous, chunk] = [chunks[i - 1], chunks[i]]
      expect(chunk.start).toBeGreaterThan(previous.start)
      if (overlap === 0) {
        expect(chunk.start).toBe(previous.end)
      } else {
        expect(chunk.start).toBeLessThan(previous.end)
        const shared = tokensOf(document20k.slice(chunk.start, previous.end))
        expect(shared).toBeGreaterThanOrEqual(overlap)
        expect(shared).toBeLessThanOrEqual(overlap + 2)
        overlapping += shared
      }
    }
    const sum = chunks.reduce((tokens, chunk) => tokens + chunk.tokens, 0)
    // Every token is in some chunk, the shared ones twice; re-encoding a chunk alone may shift a token at its edges.
    expect(Math.abs(sum - overlapping - total)).toBeLessThanOrEqual(chunks.length)
    if (overlap === 0) expect(sum).toBe(total)
  })

  it('prefers to end chunks at paragraph and sentence boundaries', () => {
    const { chunks } = chunkText({ text: document20k, maxTokens: 256, overlap: 32 })
    const inner = chunks.slice(0, -1)
    const atSentence = inner.filter((chunk) => /[.!?]\s*$/.test(chunk.text))
    expect(atSentence.length).toBe(inner.length)
    expect(inner.filter((chunk) => chunk.text.endsWith('\n\n')).length).toBeGreaterThan(inner.length / 3)
  })

  it('returns the example of its tool description', () => {
    const text = 'Robutler serves AI agents. Skills are npm packages.\n\nCPU-heavy work runs in a worker pool, so the event loop keeps serving.'
    expect(chunkText({ text, maxTokens: 12 }).chunks.map((chunk) => chunk.text)).toEqual([
      'Robutler serves AI agents. Skills are npm packages.\n\n',
      'CPU-heavy work runs in a worker pool, so the event',
      ' loop keeps serving.',
    ])
  })

  it('cuts at the token boundary when the window holds no boundary, never inside a character', () => {
    const letters = 'x'.repeat(3000)
    const { chunks } = chunkText({ text: letters, maxTokens: 100 })
    expect(chunks.map((chunk) => chunk.text).join('')).toBe(letters)
    expect(chunks.slice(0, -1).every((chunk) => chunk.tokens === 100)).toBe(true)

    const emoji = '🤖'.repeat(400)
    for (const chunk of chunkText({ text: emoji, maxTokens: 7, overlap: 2 }).chunks) {
      expect(chunk.text).toBe(emoji.slice(chunk.start, chunk.end))
      expect(chunk.start % 2).toBe(0)
      expect(chunk.end % 2).toBe(0)
      expect(chunk.tokens).toBeLessThanOrEqual(7)
    }
  })

  it('answers no chunks for an empty text and one for a short one', () => {
    expect(chunkText({ text: '', maxTokens: 10 })).toEqual({ chunks: [] })
    expect(chunkText({ text: 'hello world', maxTokens: 10, overlap: 5 })).toEqual({
      chunks: [{ index: 0, text: 'hello world', tokens: 2, start: 0, end: 11 }],
    })
  })

  it('counts with o200k_base when asked', () => {
    const { chunks } = chunkText({ text: document20k.slice(0, 20_000), maxTokens: 300, encoding: 'o200k_base' })
    for (const chunk of chunks) {
      expect(chunk.tokens).toBe(countTokens({ text: chunk.text, encoding: 'o200k_base' }).tokens)
      expect(chunk.tokens).toBeLessThanOrEqual(300)
    }
  })

  it('refuses a bad overlap or maxTokens with a clear error', () => {
    expect(() => chunkText({ text: 'a b c', maxTokens: 10, overlap: 10 })).toThrow('overlap (10) must be less than maxTokens (10)')
    expect(() => chunkText({ text: 'a b c', maxTokens: 10, overlap: 50 })).toThrow('overlap (50) must be less than maxTokens (10)')
    expect(() => chunkText({ text: 'a b c', maxTokens: 10, overlap: -1 })).toThrow(/overlap must be an integer from 0/)
    expect(() => chunkText({ text: 'a b c', maxTokens: 10, overlap: 1.5 })).toThrow(/overlap must be an integer/)
    expect(() => chunkText({ text: 'a b c', maxTokens: 0 })).toThrow(/maxTokens must be an integer from 1 to 8192, not 0/)
    expect(() => chunkText({ text: 'a b c', maxTokens: 8193 })).toThrow(/maxTokens must be an integer from 1 to 8192/)
    expect(() => chunkText({ text: 'a b c' } as { text: string; maxTokens: number })).toThrow(/maxTokens must be an integer/)
  })

  it('refuses a maxTokens smaller than one character and more than 10,000 chunks', () => {
    expect(() => chunkText({ text: '🤖', maxTokens: 1 })).toThrow(/maxTokens 1 is too small for this text: no chunk .* can start at offset 0/)
    expect(() => chunkText({ text: 'word '.repeat(30_000), maxTokens: 2 })).toThrow(/more than 10000 chunks of 2 tokens/)
  })
})

// ---------------------------------------------------------------- searchText

describe('searchText', () => {
  const filler = documentOf(3000, 11)
  const rare = 'A quokka colony was sighted near Zanzibar harbour last spring.'
  const crafted = `${filler.slice(0, 9000)}\n\n${rare}\n\n${filler.slice(9000)}`

  it('ranks the chunk with the rare query words first', () => {
    const { results } = searchText({ query: 'quokka sightings in Zanzibar', text: crafted })
    expect(results.length).toBeGreaterThan(0)
    expect(results[0].text).toContain('quokka colony')
    expect(results[0].text).toBe(crafted.slice(results[0].start, results[0].end))
    expect(results.every((result) => result.score > 0)).toBe(true)
  })

  it('scores a passage with every query word above one with some of them', () => {
    // Each inserted sentence lands in its own 200-token chunk: they are ~2,000 characters apart.
    const parts = [filler.slice(0, 2000), 'Quokkas live on islands.', filler.slice(2000, 4000), 'Quokkas were seen on Zanzibar.']
    parts.push(filler.slice(4000, 6000), 'Zanzibar has spice farms.', filler.slice(6000, 8000))
    const { results } = searchText({ query: 'quokkas zanzibar', text: parts.join('\n\n') })
    expect(results).toHaveLength(3)
    expect(results[0].text).toContain('Quokkas were seen on Zanzibar.')
    expect(results[0].score).toBeGreaterThan(results[1].score)
  })

  it('answers no results for a query of stop words only, or no shared word', () => {
    expect(searchText({ query: 'the of and to in is that', text: crafted })).toEqual({ results: [] })
    expect(searchText({ query: 'xylophone', text: crafted })).toEqual({ results: [] })
    expect(searchText({ query: 'worker', text: '' })).toEqual({ results: [] })
  })

  it('returns topK results (3 by default), best first, ties in text order', () => {
    expect(searchText({ query: 'worker pool latency', text: crafted }).results).toHaveLength(3)
    expect(searchText({ query: 'worker pool latency', text: crafted, topK: 1 }).results).toHaveLength(1)
    const { results } = searchText({ query: 'worker pool latency', text: document20k, topK: 50 })
    expect(results).toHaveLength(50)
    for (let i = 1; i < results.length; i++) {
      const [previous, result] = [results[i - 1], results[i]]
      expect(previous.score >= result.score).toBe(true)
      if (previous.score === result.score) expect(previous.index).toBeLessThan(result.index)
    }
    const same = Array.from({ length: 6 }, () => 'Apples grow on trees').join('\n\n')
    const tied = searchText({ query: 'apples', text: same, maxTokens: 5, topK: 10 }).results
    expect(tied.length).toBeGreaterThan(1)
    expect(new Set(tied.map((result) => result.score)).size).toBeLessThan(tied.length)
    for (let i = 1; i < tied.length; i++) {
      if (tied[i].score === tied[i - 1].score) expect(tied[i].index).toBeGreaterThan(tied[i - 1].index)
    }
  })

  it('refuses bad arguments', () => {
    expect(() => searchText({ query: 'x', text: 'x', topK: 0 })).toThrow(/topK must be an integer from 1 to 50/)
    expect(() => searchText({ query: 'x', text: 'x', topK: 51 })).toThrow(/topK must be an integer from 1 to 50/)
    expect(() => searchText({ query: 'x', text: 'a'.repeat(5_000_001) })).toThrow(/the limit is 5000000/)
  })
})

// ---------------------------------------------------------------- the skill

describe('skill-text', () => {
  const ajv = new Ajv({ allErrors: true, strict: true })

  it('exports exactly the three worker functions', () => {
    expect(Object.keys(worker).sort()).toEqual(['chunkText', 'countTokens', 'searchText'])
  })

  it('sets up three pool tools with valid schemas, a timeout and a prompt at priority 60', async () => {
    expect(skill.name).toBe('text')
    const parts = await setup()
    expect(parts.tools?.map((tool) => tool.name)).toEqual(['count_tokens', 'chunk_text', 'search_text'])
    expect(parts.tools?.map((tool) => tool.worker)).toEqual(['countTokens', 'chunkText', 'searchText'])
    for (const tool of parts.tools ?? []) {
      expect(tool.run).toBeUndefined()
      expect(typeof (worker as Record<string, unknown>)[tool.worker!]).toBe('function')
      expect(tool.timeoutMs).toBe(30_000)
      expect(tool.description.length).toBeGreaterThan(50)
      expect(tool.parameters).toMatchObject({ type: 'object', additionalProperties: false, required: expect.any(Array) })
      expect(() => ajv.compile(tool.parameters)).not.toThrow()
    }
    expect(parts.prompts).toEqual([{ priority: 60, text: expect.stringMatching(/count_tokens.*chunk_text.*search_text/s) }])
    // Module-level schema objects: the kernel compiles each once however many agents attach the skill.
    const again = await setup({ timeoutMs: 5000 })
    expect(again.tools?.map((tool) => tool.parameters)).toEqual(parts.tools?.map((tool) => tool.parameters))
    again.tools?.forEach((tool, i) => expect(tool.parameters).toBe(parts.tools![i].parameters))
    expect(again.tools?.every((tool) => tool.timeoutMs === 5000)).toBe(true)
  })

  it('has schemas that enforce the bounds', async () => {
    const tools = new Map((await setup()).tools!.map((tool): [string, SkillTool] => [tool.name, tool]))
    const valid = (name: string, args: unknown) => ajv.compile(tools.get(name)!.parameters)(args)
    expect(valid('count_tokens', { text: 'hi' })).toBe(true)
    expect(valid('count_tokens', { text: 'hi', encoding: 'o200k_base' })).toBe(true)
    expect(valid('count_tokens', { text: 'hi', encoding: 'gpt2' })).toBe(false)
    expect(valid('count_tokens', { text: 'hi', extra: 1 })).toBe(false)
    expect(valid('chunk_text', { text: 'hi', maxTokens: 8192, overlap: 0 })).toBe(true)
    expect(valid('chunk_text', { text: 'hi', maxTokens: 8193 })).toBe(false)
    expect(valid('chunk_text', { text: 'hi', maxTokens: 0 })).toBe(false)
    expect(valid('chunk_text', { text: 'hi' })).toBe(false)
    expect(valid('search_text', { query: 'q', text: 'hi', topK: 50 })).toBe(true)
    expect(valid('search_text', { query: 'q', text: 'hi', topK: 51 })).toBe(false)
    expect(valid('search_text', { query: '', text: 'hi' })).toBe(false)
    expect(valid('search_text', { text: 'hi' })).toBe(false)
  })

  it('has examples whose arguments are valid and whose results the worker returns', async () => {
    for (const tool of (await setup()).tools ?? []) {
      expect(tool.examples?.length).toBeGreaterThan(0)
      const validate = ajv.compile(tool.parameters)
      for (const example of tool.examples ?? []) {
        expect(validate(example.arguments)).toBe(true)
        const run = (worker as unknown as Record<string, (args: unknown) => unknown>)[tool.worker!]
        expect(run(example.arguments)).toEqual(example.result)
      }
    }
  })

  it('has a config schema with timeoutMs', () => {
    const schema = JSON.parse(readFileSync(new URL('../skills/text/config.schema.json', import.meta.url), 'utf8'))
    const validate = new Ajv({ strict: false, useDefaults: true }).compile(schema)
    const config = {}
    expect(validate(config)).toBe(true)
    expect(config).toEqual({ timeoutMs: 30_000 })
    expect(validate({ timeoutMs: 5000 })).toBe(true)
    expect(validate({ timeoutMs: 'soon' })).toBe(false)
    expect(validate({ defaultEncoding: 'o200k_base' })).toBe(false)
  })
})
