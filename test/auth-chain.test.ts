// The authenticator chain through HTTP: authenticators that answer at once and through promises, in order;
// 'not-mine' asks the next, 'invalid' and a throw stop the chain.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { calls } from './fixtures/plugins/chain/index.js'
import { answerOf, startServer, type TestServer } from './helpers/test-server.js'

describe('the authenticator chain', () => {
  let t: TestServer
  beforeAll(async () => {
    t = await startServer(['local', 'chain'], {
      plugins: { '@robutler/plugin-local': {}, 'robutler-plugin-chain': {} },
      agents: [{ name: 'echo', model: 'local/echo' }],
    })
  })
  afterAll(() => t.close())
  beforeEach(() => {
    calls.length = 0
  })

  const ask = async (token?: string) =>
    answerOf(
      await fetch(`${t.url}/echo/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: JSON.stringify({ messages: [{ role: 'user', content: 'hi' }] }),
      }),
    )

  it.each([
    ['an identity at once from the second, after the first said not-mine at once', 'sync-1', ['first sync-1', 'second sync-1']],
    ['an identity through a promise from the first; the second is not asked', 'async-1', ['first async-1']],
    ['an identity at once from the second, after the first said not-mine through a promise', 'later-1', ['first later-1', 'second later-1']],
  ])('admits %s', async (_, token, expected) => {
    expect((await ask(token)).status).toBe(200)
    expect(calls).toEqual(expected)
  })

  it('admits a request without credentials as anonymous, asking nobody', async () => {
    expect((await ask()).status).toBe(200)
    expect(calls).toEqual([])
  })

  it("refuses with 401 a key every authenticator calls 'not-mine'", async () => {
    const answer = await ask('nobody-1')
    expect(answer.status).toBe(401)
    expect(answer.json.error.code).toBe('RBT_ERR_UNAUTHENTICATED')
    expect(calls).toEqual(['first nobody-1', 'second nobody-1'])
  })

  it("stops at 'invalid': 401, and the next authenticator is not asked", async () => {
    const answer = await ask('invalid-now')
    expect(answer.status).toBe(401)
    expect(answer.json.error.code).toBe('RBT_ERR_UNAUTHENTICATED')
    expect(calls).toEqual(['first invalid-now'])
  })

  it('an authenticator that throws is a 500 without its message or a stack, and the server goes on', async () => {
    const answer = await ask('throw-now')
    expect(answer.status).toBe(500)
    expect(answer.json.error.code).toMatch(/^RBT_ERR_/)
    expect(answer.text).not.toContain('broke')
    expect(answer.text).not.toMatch(/\bat .*:\d+:\d+/)
    expect(calls).toEqual(['first throw-now'])
    expect((await ask('sync-2')).status).toBe(200)
  })
})
