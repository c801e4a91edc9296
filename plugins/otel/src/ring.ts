// A byte ring in a SharedArrayBuffer from the request thread (its one writer) to the export thread (its one reader):
// batches of encoded spans cross with one copy and no postMessage, no allocation on the request thread. Each record
// is its length and span count (32 bits each, little-endian) and then its bytes, wrapping at the ring's end. The one
// shared counter is `used`, the bytes in the ring: the writer adds a record's size after writing it, the reader
// subtracts after reading, so each side only ever touches bytes the other is done with.
const HEADER = 8
const USED = 0

/** The shared memory of a ring of `capacity` bytes (plus its counter). */
export function ringMemory(capacity: number): SharedArrayBuffer {
  return new SharedArrayBuffer(8 + capacity)
}

class RingSide {
  protected readonly state: Int32Array
  protected readonly bytes: Uint8Array
  /** This side's place in the ring (each side keeps its own). */
  protected pos = 0
  protected readonly header = new Uint8Array(HEADER)
  protected readonly headerView = new DataView(this.header.buffer)

  constructor(memory: SharedArrayBuffer) {
    this.state = new Int32Array(memory, 0, 1)
    this.bytes = new Uint8Array(memory, 8)
  }
}

export class RingWriter extends RingSide {
  /** Appends one batch of `count` spans; false, writing nothing, when the ring has no room for it. */
  write(batch: Uint8Array, count: number): boolean {
    const size = HEADER + batch.length
    if (Atomics.load(this.state, USED) + size > this.bytes.length) return false
    this.headerView.setUint32(0, batch.length, true)
    this.headerView.setUint32(4, count, true)
    this.#copyIn(this.header)
    this.#copyIn(batch)
    Atomics.add(this.state, USED, size)
    return true
  }

  #copyIn(source: Uint8Array): void {
    const room = this.bytes.length - this.pos
    if (source.length <= room) {
      this.bytes.set(source, this.pos)
      this.pos += source.length
    } else {
      this.bytes.set(source.subarray(0, room), this.pos)
      this.bytes.set(source.subarray(room), 0)
      this.pos = source.length - room
    }
    if (this.pos === this.bytes.length) this.pos = 0
  }
}

export class RingReader extends RingSide {
  /** Every batch written since the last read, each in a buffer of its own. */
  read(): Array<{ bytes: Uint8Array; count: number }> {
    const used = Atomics.load(this.state, USED)
    const out: Array<{ bytes: Uint8Array; count: number }> = []
    let taken = 0
    while (taken < used) {
      this.#copyOut(this.header)
      const length = this.headerView.getUint32(0, true)
      const count = this.headerView.getUint32(4, true)
      const bytes = new Uint8Array(length)
      this.#copyOut(bytes)
      out.push({ bytes, count })
      taken += HEADER + length
    }
    if (taken > 0) Atomics.sub(this.state, USED, taken)
    return out
  }

  #copyOut(target: Uint8Array): void {
    const room = this.bytes.length - this.pos
    if (target.length <= room) {
      target.set(this.bytes.subarray(this.pos, this.pos + target.length))
      this.pos += target.length
    } else {
      target.set(this.bytes.subarray(this.pos), 0)
      target.set(this.bytes.subarray(0, target.length - room), room)
      this.pos = target.length - room
    }
    if (this.pos === this.bytes.length) this.pos = 0
  }
}
