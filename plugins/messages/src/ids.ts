// Message ids: `msg_` + a per-process random part + a counter, as unique as the kernel's chat ids and as cheap.
import { randomBytes } from 'node:crypto'

/** Makes ids `msg_<12 hex><n>`: unique per process start, no randomness per call. */
export function messageIds(): () => string {
  const base = `msg_${randomBytes(6).toString('hex')}`
  let n = 0
  return () => `${base}${(++n).toString(36)}`
}
