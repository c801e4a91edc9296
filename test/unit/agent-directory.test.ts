// The agent cache, directly: LRU order, TTL, the shorter TTL of unknown and refused names, one load per name at a
// time, and invalidation that a load already under way cannot undo.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { AgentDirectory, AgentLoadError } from '../../kernel/dist/agents.js'
import { RESERVED_AGENT_NAMES } from '../../kernel/dist/config-schema.js'

/** As the kernel's: its own route names (a surface would add its own). */
const reservedBy = (name: string) => (RESERVED_AGENT_NAMES.has(name) ? 'the kernel' : null)

type Config = { name: string; model: string; bad?: boolean }

/** A directory over one loader that knows `known`, counting loads and builds per name. */
function directory(
  options: { maxEntries?: number; maxNegativeEntries?: number; ttlMs?: number; negativeTtlMs?: number } = {},
  known = new Set(['a', 'b', 'c', 'd', 'broken']),
) {
  const loads: string[] = []
  const builds: string[] = []
  const agents = new AgentDirectory({
    ...options,
    reservedBy,
    build: async (config: Config) => {
      builds.push(config.name)
      if (config.bad) throw Object.assign(new Error(`Agent '${config.name}' is misconfigured`), { code: 'RBT_ERR_AGENT_INVALID' })
      return { name: config.name, config } as never
    },
  })
  agents.addLoader(async (name: string) => {
    loads.push(name)
    return known.has(name) ? { name, model: 'local/echo', bad: name === 'broken' } : null
  })
  return { agents, loads, builds }
}

/** A loader whose answers the test releases one at a time. */
function gatedDirectory() {
  const gates: Array<{ name: string; open: () => void }> = []
  const agents = new AgentDirectory({ reservedBy, build: async (config: Config) => ({ name: config.name, config }) as never })
  agents.addLoader(
    (name: string) =>
      new Promise((resolve) => {
        gates.push({ name, open: () => resolve({ name, model: 'local/echo' }) })
      }),
  )
  return { agents, gates }
}

const nameOf = async (pending: unknown) => ((await pending) as { name: string } | null)?.name ?? null

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'] })
  vi.setSystemTime(0)
})
afterEach(() => {
  vi.useRealTimers()
})

describe('AgentDirectory', () => {
  it('answers a static agent without awaiting, and names that cannot be agents without asking a loader', async () => {
    const { agents, loads } = directory()
    const echo = { name: 'echo' } as never
    agents.static.set('echo', echo)
    expect(agents.resolve('echo')).toBe(echo)
    for (const name of ['health', 'UPPER', 'x'.repeat(65), '../etc']) expect(agents.resolve(name)).toBeNull()
    expect(loads).toEqual([])
    expect(new AgentDirectory({ reservedBy, build: async () => ({}) as never }).resolve('a')).toBeNull() // no loader: nothing dynamic
  })

  it('caches a loaded agent and answers it synchronously until its TTL passes', async () => {
    const { agents, loads } = directory({ ttlMs: 1000 })
    expect(await nameOf(agents.resolve('a'))).toBe('a')
    expect(await nameOf(agents.resolve('a'))).toBe('a')
    expect((agents.resolve('a') as { name: string }).name).toBe('a') // a hit is not a promise
    vi.setSystemTime(999)
    await agents.resolve('a')
    expect(loads).toEqual(['a'])
    vi.setSystemTime(1000)
    expect(await nameOf(agents.resolve('a'))).toBe('a')
    expect(loads).toEqual(['a', 'a'])
    expect(agents.stats()).toMatchObject({ cached: 1, loads: 2, hits: 3, misses: 2 })
  })

  it('evicts the least recently used entry when full: a hit makes an entry recent again', async () => {
    const { agents, loads } = directory({ maxEntries: 3 })
    for (const name of ['a', 'b', 'c']) await agents.resolve(name)
    await agents.resolve('a') // a is now more recent than b and c
    await agents.resolve('d') // evicts b
    expect(agents.cacheSize).toBe(3)
    loads.length = 0
    for (const name of ['a', 'c', 'd']) await agents.resolve(name)
    expect(loads).toEqual([])
    await agents.resolve('b')
    expect(loads).toEqual(['b'])
  })

  it('remembers an unknown name, and a refused config, for the shorter negative TTL', async () => {
    const { agents, loads, builds } = directory({ ttlMs: 60_000, negativeTtlMs: 500 })
    expect(await agents.resolve('nobody')).toBeNull()
    expect(agents.resolve('nobody')).toBeNull()
    const refused = await Promise.resolve(agents.resolve('broken')).catch((error: Error) => error)
    expect((refused as { code?: string }).code).toBe('RBT_ERR_AGENT_INVALID')
    await expect(agents.resolve('broken')).rejects.toBe(refused) // the same refusal, not built again
    expect(loads).toEqual(['nobody', 'broken'])
    expect(builds).toEqual(['broken'])
    vi.setSystemTime(500)
    expect(await agents.resolve('nobody')).toBeNull()
    await expect(agents.resolve('broken')).rejects.toThrow(/misconfigured/)
    expect(loads).toEqual(['nobody', 'broken', 'nobody', 'broken'])
    expect(builds).toEqual(['broken', 'broken'])
  })

  it('loads a name once however many ask at the same time', async () => {
    const { agents, gates } = gatedDirectory()
    const asked = Array.from({ length: 100 }, () => agents.resolve('a'))
    expect(gates).toHaveLength(1)
    gates[0]!.open()
    const answers = await Promise.all(asked)
    expect(new Set(answers).size).toBe(1)
    expect(await nameOf(answers[0])).toBe('a')
  })

  it('invalidate drops an entry; a load under way when its name (or everything) is invalidated does not refill the cache', async () => {
    const { agents, gates } = gatedDirectory()
    const first = agents.resolve('a')
    agents.invalidate('a') // the source changed while the old version was being read
    gates[0]!.open()
    expect(await nameOf(first)).toBe('a') // that request still gets an answer
    expect(agents.cacheSize).toBe(0)
    const second = agents.resolve('a')
    expect(gates).toHaveLength(2)
    gates[1]!.open()
    await second
    expect(agents.cacheSize).toBe(1)

    const other = agents.resolve('b')
    agents.invalidate('a') // another name: b's load stays good
    gates[2]!.open()
    await other
    expect(agents.cacheSize).toBe(1)

    const third = agents.resolve('c')
    agents.invalidate() // everything
    expect(agents.cacheSize).toBe(0)
    gates[3]!.open()
    await third
    expect(agents.cacheSize).toBe(0)
    agents.resolve('b')
    expect(gates.map((g) => g.name)).toEqual(['a', 'a', 'b', 'c', 'b'])
  })

  it('a loader that throws: an AgentLoadError naming the loader (the kernel answers 503), never cached; its own RobutlerError as it is', async () => {
    let failure: Error | null = new Error('store down')
    const agents = new AgentDirectory({ reservedBy, build: async (config: Config) => ({ name: config.name }) as never })
    agents.addLoader(
      async () => {
        if (failure) throw failure
        return { name: 'x', model: 'local/echo' }
      },
      { name: 'store' },
    )
    const down = await Promise.resolve(agents.resolve('flaky')).catch((error) => error)
    expect(down).toBeInstanceOf(AgentLoadError)
    expect([down.agent, down.loader, down.cause]).toEqual(['flaky', 'store', failure])
    expect(down.message).toBe("loader store failed for agent 'flaky': store down")
    const own = Object.assign(new Error('quota'), { code: 'RBT_ERR_RATE_LIMITED', statusCode: 429, type: 'rate_limit_error' })
    failure = own
    await expect(agents.resolve('flaky')).rejects.toBe(own)
    failure = null
    expect(await nameOf(agents.resolve('flaky'))).toBe('flaky') // renamed after the name asked for
    expect(agents.stats().loadErrors).toBe(2)
  })

  it('keeps unknown names apart, in a smaller bound: 10,500 made-up names evict no agent', async () => {
    const { agents, loads } = directory({ maxEntries: 3, maxNegativeEntries: 100 })
    for (const name of ['a', 'b', 'c']) await agents.resolve(name)
    for (let i = 0; i < 10_500; i++) expect(await agents.resolve(`random-${i}`)).toBeNull()
    expect([agents.cacheSize, agents.negativeSize]).toEqual([3, 100])
    loads.length = 0
    for (const name of ['a', 'b', 'c']) expect(await nameOf(agents.resolve(name))).toBe(name)
    expect(loads).toEqual([]) // every one a hit
    // A refused record is a negative entry too: it evicts no agent either.
    await Promise.resolve(agents.resolve('broken')).catch(() => undefined)
    expect(agents.cacheSize).toBe(3)
  })

  it("serves a known agent as last loaded while its loader fails, up to maxStaleMs, asking again every retryMs", async () => {
    let down = false
    const warnings: unknown[] = []
    const agents = new AgentDirectory({
      reservedBy,
      ttlMs: 1_000,
      maxStaleMs: 10_000,
      retryMs: 500,
      log: { warn: (object) => void warnings.push(object) },
      build: async (config: Config) => ({ name: config.name, config }) as never,
    })
    let loads = 0
    agents.addLoader(async (name) => {
      loads++
      if (down) throw new Error('connect ECONNREFUSED 127.0.0.1:5440')
      return { name, model: 'local/echo' }
    })
    const first = await agents.resolve('a')
    down = true
    vi.setSystemTime(1_000) // expired: reloaded, which fails
    expect(await agents.resolve('a')).toBe(first)
    expect(loads).toBe(2)
    expect(warnings).toHaveLength(1)
    expect(agents.resolve('a')).toBe(first) // within retryMs: no load, no wait
    expect(loads).toBe(2)
    vi.setSystemTime(1_500)
    expect(await agents.resolve('a')).toBe(first)
    expect(loads).toBe(3)
    expect(agents.stats().staleServed).toBe(2)
    vi.setSystemTime(10_001) // older than maxStaleMs: the failure itself
    await expect(agents.resolve('a')).rejects.toBeInstanceOf(AgentLoadError)
    expect(agents.cacheSize).toBe(0)
    down = false
    expect(await nameOf(agents.resolve('a'))).toBe('a')
    expect(agents.resolve('a')).not.toBe(first) // a fresh load
  })

  it('an agent that its loader no longer knows is gone at once, stale or not', async () => {
    const known = new Set(['a'])
    const { agents } = directory({ ttlMs: 1_000 }, known)
    await agents.resolve('a')
    known.delete('a')
    vi.setSystemTime(1_000)
    expect(await agents.resolve('a')).toBeNull()
    expect([agents.cacheSize, agents.negativeSize]).toEqual([0, 1])
  })

  it('asks loaders by priority, lower first, until one knows the name', async () => {
    const asked: string[] = []
    const agents = new AgentDirectory({ reservedBy, build: async (config: Config) => ({ name: config.name, config }) as never })
    agents.addLoader(async () => (asked.push('late'), { name: 'z', model: 'late/m' }), { priority: 200 })
    agents.addLoader(async () => (asked.push('early'), null), { priority: 10 })
    agents.addLoader(async () => (asked.push('middle'), { name: 'z', model: 'middle/m' }), { priority: 100 })
    const agent = (await agents.resolve('z')) as unknown as { config: Config }
    expect(agent.config.model).toBe('middle/m')
    expect(asked).toEqual(['early', 'middle'])
    expect(() => agents.addLoader('nope' as never)).toThrow(TypeError)
  })
})
