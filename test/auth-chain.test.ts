// The authenticator chain through HTTP: authenticators that answer at once and through promises, in order;
// 'not-mine' asks the next, 'invalid' and a throw stop the chain; and identifyNow, the chain without a promise.
import type { FastifyRequest } from 'fastify'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { AuthChain, IDENTITY } from '../kernel/dist/auth.js'
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

// The chain as hooks on the request path ask it: identifyNow answers without a promise when every authenticator that
// ran answered at once, runs once per request however often it is asked, and keeps a refusal for whoever asks next.
describe('AuthChain.identifyNow', () => {
  type Asked = { headers: Record<string, string>; [IDENTITY]: unknown }
  const requestWith = (token?: string): FastifyRequest =>
    ({ headers: token ? { authorization: `Bearer ${token}` } : {}, [IDENTITY]: null }) as Asked as unknown as FastifyRequest
  const runs: string[] = []
  const chain = new AuthChain()
  chain.add((credential) => {
    runs.push(`first ${credential.token}`)
    if (credential.token === 'sync-a') return { userId: 'a', scope: 'all' }
    if (credential.token === 'async-b') return Promise.resolve({ userId: 'b', scope: 'all' } as const)
    if (credential.token === 'invalid') return 'invalid'
    return 'not-mine'
  })
  chain.add((credential) => {
    runs.push(`second ${credential.token}`)
    return credential.token === 'later-c' ? Promise.resolve({ userId: 'c', scope: 'owner' } as const) : 'not-mine'
  })
  beforeEach(() => {
    runs.length = 0
  })

  it('answers an identity given at once without a promise, and runs the chain once per request', async () => {
    const request = requestWith('sync-a')
    expect(chain.identifyNow(request)).toEqual({ userId: 'a', scope: 'all' })
    expect(chain.identifyNow(request)).toBe(chain.identifyNow(request))
    await expect(chain.identify(request)).resolves.toEqual({ userId: 'a', scope: 'all' })
    expect(runs).toEqual(['first sync-a'])
    expect(chain.identifyNow(requestWith())).toBeNull()
  })

  it('answers a promise once an authenticator does, the same one to every asker', async () => {
    const request = requestWith('later-c')
    const pending = chain.identifyNow(request)
    expect(pending).toBeInstanceOf(Promise)
    expect(chain.identify(request)).toBe(pending)
    await expect(pending).resolves.toEqual({ userId: 'c', scope: 'owner' })
    expect(runs).toEqual(['first later-c', 'second later-c'])
    await expect(chain.identifyNow(requestWith('async-b'))).resolves.toEqual({ userId: 'b', scope: 'all' })
  })

  it('throws a refusal at once, the same error to the next asker without running the chain again', async () => {
    for (const token of ['invalid', 'nobody']) {
      const request = requestWith(token)
      let first: unknown
      try {
        chain.identifyNow(request)
      } catch (error) {
        first = error
      }
      expect(first).toMatchObject({ statusCode: 401, code: 'RBT_ERR_UNAUTHENTICATED' })
      expect(() => chain.identifyNow(request)).toThrow(first as Error)
      await expect(chain.identify(request)).rejects.toBe(first)
    }
    expect(runs).toEqual(['first invalid', 'first nobody', 'second nobody'])
  })
})
