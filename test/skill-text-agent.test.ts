// @robutler/skill-text through an agent: the tools run in the worker pool and answer the model.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { postJson, startServer, type TestServer } from './helpers/test-server.js'

describe('skill-text through an agent and the pool', () => {
  let t: TestServer
  const toolAnswer = async (line: string) => {
    const res = await postJson(`${t.url}/reader/chat/completions`, { messages: [{ role: 'user', content: line }] })
    expect(res.status).toBe(200)
    return JSON.parse(res.json.choices[0].message.content)
  }

  beforeAll(async () => {
    t = await startServer(['local', 'text'], {
      workerThreads: 1,
      plugins: { '@robutler/plugin-local': {} },
      agents: [{ name: 'reader', model: 'local/echo', skills: { '@robutler/skill-text': {} } }],
    })
  })
  afterAll(() => t.close())

  it('offers the three tools', async () => {
    const info = await (await fetch(`${t.url}/reader`)).json()
    expect(info.tools.map((x: any) => x.name).sort()).toEqual(['chunk_text', 'count_tokens', 'search_text'])
  })

  it('count_tokens counts with a real BPE tokenizer', async () => {
    expect(await toolAnswer('/tool count_tokens {"text": "hello world"}')).toEqual({ tokens: 2, encoding: 'cl100k_base' })
    expect((await toolAnswer('/tool count_tokens {"text": "hello world", "encoding": "o200k_base"}')).encoding).toBe('o200k_base')
  })

  it('chunk_text and search_text answer with chunks and ranked passages', async () => {
    const text = `${'The weather was mild and nothing happened. '.repeat(60)}The zeppelin landed in Reykjavik at dawn. ${'More quiet days followed. '.repeat(60)}`
    const { chunks } = await toolAnswer(`/tool chunk_text ${JSON.stringify({ text, maxTokens: 50, overlap: 5 })}`)
    expect(chunks.length).toBeGreaterThan(5)
    expect(chunks.every((c: any) => c.tokens <= 50 && text.slice(c.start, c.end) === c.text)).toBe(true)
    const { results } = await toolAnswer(`/tool search_text ${JSON.stringify({ query: 'zeppelin Reykjavik', text, topK: 2 })}`)
    expect(results[0].text).toContain('zeppelin landed in Reykjavik')
  })

  it('arguments out of the schema reach the model as an error text', async () => {
    const answer = await toolAnswer('/tool chunk_text {"text": "x", "maxTokens": 0}')
    expect(answer.error.code).toBe('RBT_ERR_TOOL_ARGUMENTS_INVALID')
  })
})
