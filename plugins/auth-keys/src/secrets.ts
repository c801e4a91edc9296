// Key material: how secrets are made, hashed and compared. Nothing here logs or keeps a secret.
//
// Why SHA-256 and not bcrypt/scrypt/argon2: those are slow on purpose, to protect low-entropy passwords from
// offline guessing. Our database keys are 32 random bytes (256 bits): no guessing attack exists to slow down, so a
// fast hash loses nothing, and a slow one would cost tens of milliseconds of CPU on every cache miss (an easy
// denial of service). A fast, unsalted hash also lets a key be found by an indexed lookup on its hash, which a
// salted slow hash cannot do without scanning every row.
import { hash, randomBytes, randomInt, timingSafeEqual } from 'node:crypto'

/** The prefix of keys this plugin makes: `rbt_` + 32 random bytes in base64url. */
export const SECRET_PREFIX = 'rbt_'
const SECRET_BYTES = 32

/** The shape of a key this plugin made; only such tokens are looked up in the database. */
export const GENERATED_SECRET = /^rbt_[A-Za-z0-9_-]{43}$/

const ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789'
const ID_LENGTH = 8

/**
 * SHA-256 of a secret as a 32-character latin1 string (one character a byte): the Map key of a hash. One-shot
 * `crypto.hash` to a string is about 4x cheaper than createHash().digest() on the request path.
 */
export function hashKeyOf(secret: string): string {
  return hash('sha256', secret, 'binary') // 'binary' is Node's name for latin1
}

/** The 32 bytes of a hash key, for constant-time compares and the database. */
export function hashBytes(key: string): Buffer {
  return Buffer.from(key, 'latin1')
}

/** SHA-256 of a secret: 32 bytes. */
export function hashSecret(secret: string): Buffer {
  return hashBytes(hashKeyOf(secret))
}

/** Compares two hashes in constant time; unequal lengths are simply different (hashes are all 32 bytes). */
export function sameHash(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b)
}

/** A new secret, shown once to whoever creates it. */
export function newSecret(): string {
  return SECRET_PREFIX + randomBytes(SECRET_BYTES).toString('base64url')
}

/** A new public key id such as `rk_ab12cd34` (36^8 ≈ 2.8e12 ids; a collision is retried by the store). */
export function newKeyId(): string {
  let id = 'rk_'
  for (let i = 0; i < ID_LENGTH; i++) id += ID_ALPHABET[randomInt(ID_ALPHABET.length)]
  return id
}
