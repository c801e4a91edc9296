// Object ids as OpenAI spells them (`resp_…`, `msg_…`, `fc_…`, `conv_…`): a prefix, 24 random hex characters made
// once per process, and a counter. Unique across processes (the random part) and cheap per call (no randomness).
import { randomBytes } from 'node:crypto'

const base = randomBytes(12).toString('hex')
let counter = 0

/** A new id with that prefix, e.g. `newId('resp')` → `resp_3f9a…1k`. */
export function newId(prefix: string): string {
  return `${prefix}_${base}${(++counter).toString(36).padStart(6, '0')}`
}
