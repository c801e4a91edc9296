// The worker side of cluster gathering over a channel standing in for node:cluster's process IPC: it listens
// only when it must, answers the primary's collects, and a closed kernel leaves no listener behind.
import { EventEmitter } from 'node:events'
import { describe, expect, it } from 'vitest'
import { ClusterGather, type GatherChannel } from '../../kernel/dist/cluster-gather.js'

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
