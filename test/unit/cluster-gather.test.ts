// The worker side of cluster gathering over a channel standing in for node:cluster's process IPC: it listens
// only when it must, answers the primary's collects, and a closed kernel leaves no listener behind.
import { EventEmitter } from 'node:events'
import { describe, expect, it } from 'vitest'
import { ClusterGather, GatherRelay, type GatherChannel, type GatherMessage, type RelayCluster } from '../../kernel/dist/cluster-gather.js'

class FakeChannel extends EventEmitter implements GatherChannel {
  readonly sent: unknown[] = []
  constructor(readonly isWorker: boolean) {
    super()
  }
  send(message: unknown): void {
    this.sent.push(message)
  }
}

const tick = () => new Promise((resolve) => setImmediate(resolve))

describe('ClusterGather', () => {
  it('in a single process answers with the local handler and never listens', async () => {
    const channel = new FakeChannel(false)
    const gather = new ClusterGather(channel)
    gather.onGather('metrics', () => 'mine')
    expect(await gather.gather('metrics')).toEqual(['mine'])
    expect(await gather.gather('nobody')).toEqual([])
    expect(channel.listenerCount('message')).toBe(0)
  })

  it('in a worker listens once, answers collects (undefined for a throwing handler) and gets gathered values', async () => {
    const channel = new FakeChannel(true)
    const gather = new ClusterGather(channel)
    gather.onGather('metrics', async () => 'from this worker')
    gather.onGather('broken', () => {
      throw new Error('no')
    })
    expect(channel.listenerCount('message')).toBe(1)
    expect(() => gather.onGather('metrics', () => 1)).toThrow(/already registered/)

    channel.emit('message', { robutler: 'collect', id: 7, topic: 'metrics' })
    channel.emit('message', { robutler: 'collect', id: 8, topic: 'broken' })
    channel.emit('message', 'not ours')
    await tick()
    expect([...channel.sent].sort((a: any, b: any) => a.id - b.id)).toEqual([
      { robutler: 'collected', id: 7, topic: 'metrics', value: 'from this worker' },
      { robutler: 'collected', id: 8, topic: 'broken', value: undefined },
    ])

    const pending = gather.gather('metrics', 1000)
    const asked = channel.sent.at(-1) as { robutler: string; id: number; topic: string; timeoutMs: number }
    expect(asked).toMatchObject({ robutler: 'gather', topic: 'metrics', timeoutMs: 1000 })
    channel.emit('message', { robutler: 'gathered', id: asked.id, topic: 'metrics', values: [1, 2, 3] })
    expect(await pending).toEqual([1, 2, 3])
    expect(channel.listenerCount('message')).toBe(1)
  })

  it('close removes its listener; kernels that come and go leave none behind', () => {
    const channel = new FakeChannel(true)
    for (let i = 0; i < 20; i++) {
      const gather = new ClusterGather(channel)
      gather.onGather('metrics', () => i)
      gather.close()
    }
    expect(channel.listenerCount('message')).toBe(0)
  })
})

/** node:cluster as the primary sees it, with workers that each answer a collect with their own counter. */
class FakeCluster extends EventEmitter {
  readonly live = new Map<number, { id: number; counter: number; isConnected: () => boolean; send: (message: GatherMessage) => void }>()
  readonly toAsker: GatherMessage[] = []

  add(id: number, counter: number): void {
    const worker = {
      id,
      counter,
      isConnected: () => this.live.has(id),
      send: (message: GatherMessage) => {
        if (message.robutler === 'collect') queueMicrotask(() => this.emit('message', worker, { robutler: 'collected', id: message.id, topic: message.topic, value: worker.counter }))
        else this.toAsker.push(message)
      },
    }
    this.live.set(id, worker)
  }

  kill(id: number): void {
    this.live.delete(id)
    this.emit('exit', { id })
  }

  view(): RelayCluster {
    return {
      workers: () => [...this.live.values()],
      onMessage: (listener) => void this.on('message', listener),
      offMessage: (listener) => void this.off('message', listener),
      onExit: (listener) => void this.on('exit', listener),
    }
  }

  /** A gather asked by worker `from`; answers what the relay sent back. */
  async gather(from: number): Promise<GatherMessage> {
    this.toAsker.length = 0
    this.emit('message', this.live.get(from), { robutler: 'gather', id: 1, topic: 'count', timeoutMs: 200 })
    for (let i = 0; i < 50 && this.toAsker.length === 0; i++) await tick()
    return this.toAsker[0]!
  }
}

describe('GatherRelay (the primary side)', () => {
  it('answers the live workers, and what dead ones last answered as departed; a merge leaves one departed answer', async () => {
    const cluster = new FakeCluster()
    new GatherRelay(cluster.view())
    cluster.add(1, 10)
    cluster.add(2, 20)
    expect(await cluster.gather(1)).toMatchObject({ robutler: 'gathered', values: [10, 20], departed: [], departedIds: [] })
    cluster.live.get(2)!.counter = 25
    await cluster.gather(1) // the relay has now heard 25 from worker 2
    cluster.kill(2)
    cluster.add(3, 0)
    const afterOne = await cluster.gather(1)
    expect([afterOne.values, afterOne.departed]).toEqual([[10, 0], [25]])
    cluster.live.get(1)!.counter = 12
    await cluster.gather(3)
    cluster.kill(1)
    cluster.add(4, 0)
    const afterTwo = await cluster.gather(3)
    expect([afterTwo.values, afterTwo.departed]).toEqual([[0, 0], [25, 12]])
    // The asker merged them (a sum) and handed the merge back: the relay keeps one answer for both.
    cluster.emit('message', cluster.live.get(3), { robutler: 'compact', id: 0, topic: 'count', value: 37, departedIds: afterTwo.departedIds })
    const merged = await cluster.gather(4)
    expect([merged.values, merged.departed, merged.departedIds]).toEqual([[0, 0], [37], [expect.any(Number)]])
    // A stale compaction (ids no longer at the head of the list) changes nothing.
    cluster.emit('message', cluster.live.get(3), { robutler: 'compact', id: 0, topic: 'count', value: 999, departedIds: afterTwo.departedIds })
    expect((await cluster.gather(4)).departed).toEqual([37])
  })

  it('a worker that does not answer in time stands in with its last answer, among the departed', async () => {
    const cluster = new FakeCluster()
    new GatherRelay(cluster.view())
    cluster.add(1, 5)
    cluster.add(2, 7)
    await cluster.gather(1)
    cluster.live.get(2)!.send = () => undefined // deaf from now on
    const answer = await new Promise<GatherMessage>((resolve) => {
      cluster.toAsker.length = 0
      cluster.emit('message', cluster.live.get(1), { robutler: 'gather', id: 2, topic: 'count', timeoutMs: 50 })
      const poll = setInterval(() => {
        if (cluster.toAsker.length > 0) {
          clearInterval(poll)
          resolve(cluster.toAsker[0]!)
        }
      }, 10)
    })
    expect([answer.values, answer.departed]).toEqual([[5], [7]])
  })
})

describe('ClusterGather.gatherAll with a merge (the worker side)', () => {
  it('hands the primary the merge of the departed answers it got', async () => {
    const channel = new FakeChannel(true)
    const gather = new ClusterGather(channel)
    gather.onGather('count', () => 1, { merge: (values) => (values as number[]).reduce((a, b) => a + b, 0) })
    const pending = gather.gatherAll('count', 100)
    const asked = channel.sent.at(-1) as { id: number }
    channel.emit('message', { robutler: 'gathered', id: asked.id, topic: 'count', values: [1, 2], departed: [3, 4, 9], departedIds: [7, 8] })
    expect(await pending).toEqual({ values: [1, 2], departed: [3, 4, 9] })
    expect(channel.sent.at(-1)).toEqual({ robutler: 'compact', id: 0, topic: 'count', value: 7, departedIds: [7, 8] })
  })
})
