// The BPE encoders, built once per pool thread on first use: building one takes a few hundred milliseconds.
import cl100kBase from 'js-tiktoken/ranks/cl100k_base'
import o200kBase from 'js-tiktoken/ranks/o200k_base'
import { BpeEncoder } from './bpe.js'
import type { Encoding } from './limits.js'

const ranks = { cl100k_base: cl100kBase, o200k_base: o200kBase }

// Module state is right here: a worker module lives once per thread, and the encoders never change.
const built = new Map<Encoding, BpeEncoder>()

export function encoderFor(encoding: Encoding): BpeEncoder {
  let encoder = built.get(encoding)
  if (encoder === undefined) {
    encoder = new BpeEncoder(ranks[encoding])
    built.set(encoding, encoder)
  }
  return encoder
}
