// Under `robutler start --workers N` each process records its own requests and figures; a page load reaches one of
// them. These gather every process's (KernelApi.cluster) and merge them, so the console shows the whole server.
// In a single process a gather is that process's own value.
import type { KernelApi } from '@robutler/kernel'
import type { RecentRequest, Recorder, Snapshot } from './recorder.js'

const RECENT = 'console:recent'
const SECONDS = 'console:seconds'
/** A process that does not answer within this is left out of this view (a figure a second must not stall). */
const GATHER_MS = 800

interface Seconds {
  pid: number
  history: Snapshot[]
}

export function answerGathers(kernel: KernelApi, recorder: Recorder): void {
  kernel.cluster.onGather(RECENT, () => recorder.recent())
  kernel.cluster.onGather(SECONDS, (): Seconds => ({ pid: process.pid, history: recorder.history }))
}

/** Every process's kept requests, newest first, at most `size`. */
export async function recentOfAll(kernel: KernelApi, size: number): Promise<RecentRequest[]> {
  const lists = (await kernel.cluster.gather(RECENT, GATHER_MS)) as RecentRequest[][]
  if (lists.length === 1) return lists[0]
  return lists.flat().sort((a, b) => b.time - a.time).slice(0, size)
}

/**
 * One snapshot of several processes' for the same second: counts and gauges add up, p99 is the highest (a bound:
 * percentiles do not add), p50 the mean weighted by requests, pool utilisation the mean weighted by threads.
 */
export function combine(snapshots: Snapshot[]): Snapshot {
  if (snapshots.length === 1) return snapshots[0]
  const sum = (figure: (s: Snapshot) => number) => snapshots.reduce((total, s) => total + figure(s), 0)
  const errors: Record<string, number> = {}
  for (const s of snapshots) for (const [code, n] of Object.entries(s.errors)) errors[code] = (errors[code] ?? 0) + n
  const rps = sum((s) => s.rps)
  const timed = snapshots.filter((s) => s.p50 !== null && s.rps > 0)
  const threads = sum((s) => s.poolThreads)
  return {
    t: Math.max(...snapshots.map((s) => s.t)),
    rps,
    p50: timed.length === 0 ? null : timed.reduce((total, s) => total + s.p50! * s.rps, 0) / timed.reduce((total, s) => total + s.rps, 0),
    p99: timed.length === 0 ? null : Math.max(...timed.map((s) => s.p99!)),
    errors,
    tokensPerSec: sum((s) => s.tokensPerSec),
    streamsOpen: sum((s) => s.streamsOpen),
    poolQueue: sum((s) => s.poolQueue),
    poolUtilization: threads === 0 ? 0 : Math.round((sum((s) => s.poolUtilization * s.poolThreads) / threads) * 1000) / 1000,
    poolThreads: threads,
    rejected: sum((s) => s.rejected),
  }
}

/** Snapshots of every process grouped by the wall-clock second they closed in, each group combined, oldest first. */
function bySecond(snapshots: Snapshot[]): Snapshot[] {
  const groups = new Map<number, Snapshot[]>()
  for (const s of snapshots) {
    const second = Math.floor(s.t / 1000)
    const group = groups.get(second)
    if (group) group.push(s)
    else groups.set(second, [s])
  }
  return [...groups.entries()].sort((a, b) => a[0] - b[0]).map(([, group]) => combine(group))
}

/**
 * The whole server's figures for one viewer: `history()` once (the last minute), then `fresh()` each second for the
 * snapshots taken since, per process (each process's snapshot is counted once, whichever second it is read in).
 */
export function secondsOfAll(kernel: KernelApi) {
  const sent = new Map<number, number>()
  const gather = async () => (await kernel.cluster.gather(SECONDS, GATHER_MS)) as Seconds[]
  const take = (all: Seconds[]) =>
    all.flatMap(({ pid, history }) => {
      const after = sent.get(pid) ?? 0
      const fresh = history.filter((s) => s.t > after)
      if (fresh.length > 0) sent.set(pid, fresh[fresh.length - 1].t)
      return fresh
    })
  return {
    history: async () => bySecond(take(await gather())).slice(-60),
    fresh: async () => bySecond(take(await gather())),
  }
}
