// Trace and span ids as 32-bit words in the big-endian order of their hex (a trace id four, a span id two), made
// from Math.random as the SDK's RandomIdGenerator makes them. The request thread keeps them as numbers: protobuf
// takes them as bytes (otlp-proto.ts), and text is made only where text is needed (traceparent, log lines, OTLP
// JSON). Sampling decides on the words, as the SDK's samplers decide on the hex.
import type { SamplerName } from './config.js'
import type { TraceWords } from './span-record.js'

const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'))

/** A random 32-bit word. */
export function randomWord(): number {
  return (Math.random() * 0x100000000) >>> 0
}

/** A random last word of an id: never 0, so that no id is all zeros (invalid in W3C trace context). */
export function randomLastWord(): number {
  return randomWord() || 1
}

/** A word as 8 hex digits. */
export function hexWord(word: number): string {
  return HEX[word >>> 24]! + HEX[(word >>> 16) & 0xff]! + HEX[(word >>> 8) & 0xff]! + HEX[word & 0xff]!
}

/** The word at hex digit `at` (8 digits) of a valid hex id. */
export function wordAt(hex: string, at: number): number {
  return Number.parseInt(hex.slice(at, at + 8), 16) >>> 0
}

/**
 * Whether a new trace is recorded, as the SDK's sampler of that name decides: `parentSampled` is the client's
 * traceparent's sampled flag (undefined when no valid one came). traceidratio compares the XOR of the trace id's
 * four words with ratio × 2³², as TraceIdRatioBasedSampler does on their hex.
 */
export type Sampling = (words: Readonly<TraceWords>, parentSampled: boolean | undefined) => boolean

export function samplingOf(sampler: SamplerName, ratio: number): Sampling {
  const normalized = Number.isNaN(ratio) ? 0 : Math.min(1, Math.max(0, ratio))
  const upperBound = normalized === 1 ? 0x100000000 : Math.floor(normalized * 0xffffffff)
  const byRatio: Sampling = (w) => ((w[0] ^ w[1] ^ w[2] ^ w[3]) >>> 0) < upperBound
  const parentBased = (root: Sampling): Sampling => (w, parentSampled) => (parentSampled === undefined ? root(w, undefined) : parentSampled)
  switch (sampler) {
    case 'always_on':
      return () => true
    case 'always_off':
      return () => false
    case 'traceidratio':
      return byRatio
    case 'parentbased_always_off':
      return parentBased(() => false)
    case 'parentbased_traceidratio':
      return parentBased(byRatio)
    default:
      return parentBased(() => true)
  }
}
