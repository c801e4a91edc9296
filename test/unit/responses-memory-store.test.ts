// plugin-responses' memory store (a package export): bounded by count and by bytes, least recently used first;
// a read makes a response recent; retention removes what was written before a time; events follow their response.
import { MemoryStore } from '@robutler/plugin-responses'
import { describe, expect, it } from 'vitest'

function record(id: string, text = 'hello') {
  const output = [{ id: `msg_${id}`, type: 'message', role: 'assistant', status: 'completed', content: [{ type: 'output_text', text, annotations: [] }] }]
  return { id, owner: null, agent: 'echo', response: { id, object: 'response', status: 'completed', output }, history: [], input: [], items: output }
}

describe('MemoryStore bounds', () => {
  it('keeps at most maxResponses, evicting the least recently used (a read counts as a use)', async () => {
    const store = new MemoryStore(3, 1_000_000)
    for (const id of ['a', 'b', 'c']) await store.putResponse(record(id))
    expect((await store.getResponse('a'))?.response.id).toBe('a')
    await store.putResponse(record('d'))
    expect(await store.getResponse('b')).toBeNull()
    expect((await store.getResponse('a'))?.id).toBe('a')
    expect(store.stats().entries).toBe(3)
  })

  it('keeps at most maxBytes of JSON, and a response bigger than the bound alone is still kept until the next', async () => {
    const store = new MemoryStore(1000, 2000)
    for (let i = 0; i < 10; i++) await store.putResponse(record(`r${i}`, 'x'.repeat(300)))
    expect(store.stats().bytes).toBeLessThanOrEqual(2000)
    expect(store.stats().entries).toBeLessThan(10)
    expect(await store.getResponse('r9')).not.toBeNull()
    expect(await store.getResponse('r0')).toBeNull()
    await store.putResponse(record('huge', 'x'.repeat(5000)))
    expect(await store.getResponse('huge')).not.toBeNull()
    expect(store.stats().entries).toBe(1)
  })

  it('retention removes what was written before the time; events and deletes follow their response', async () => {
    const store = new MemoryStore(10, 1_000_000)
    await store.putResponse(record('old'))
    await store.appendEvents('old', [{ sequence: 0, json: '{"type":"response.created"}' }])
    expect(await store.readEvents('old', -1)).toHaveLength(1)
    await store.expire(Date.now() + 1)
    expect(await store.getResponse('old')).toBeNull()
    expect(await store.readEvents('old', -1)).toEqual([])
    expect(store.stats()).toEqual({ entries: 0, bytes: 0 })
    await store.putResponse(record('gone'))
    expect(await store.deleteResponse('gone')).toBe(true)
    expect(await store.deleteResponse('gone')).toBe(false)
    expect(store.stats().bytes).toBe(0)
  })
})
