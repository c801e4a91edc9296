// An abortable delay: the configured latencies must never outlive the request that waits on them.
import { setTimeout as sleep } from 'node:timers/promises'

/** Waits `ms` milliseconds; when `signal` fires, rejects at once with the signal's reason. */
export async function pause(ms: number, signal: AbortSignal): Promise<void> {
  try {
    await sleep(ms, undefined, { signal })
  } catch (error) {
    // timers/promises rejects with its own AbortError; callers expect the reason the request was aborted with.
    if (signal.aborted && signal.reason !== undefined) throw signal.reason
    throw error
  }
}
