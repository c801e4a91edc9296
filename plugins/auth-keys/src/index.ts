// @robutler/plugin-auth-keys: API keys from the config (or the environment) and from a PostgreSQL table where
// only their SHA-256 hashes are kept, as a Robutler authenticator; `robutler keys create|list|revoke`.
import { definePlugin, describeConnectionError, type KernelApi } from '@robutler/kernel'
import { configKeyId, configKeyTable, createAuthenticator, type CachedAnswer } from './authenticator.js'
import { TtlLru } from './cache.js'
import { keysCommand } from './commands.js'
import { settingsFrom, type AuthKeysConfig, type ConfigKey } from './config.js'
import { describeDatabase, openPool } from './database.js'
import { KeyStore } from './store.js'

/** How long a key the database does not know is answered without asking again (at most cacheTtlSeconds). */
const UNKNOWN_KEY_TTL_MS = 5_000

/** Config keys shorter than this are easy to guess online; they work, with a warning. */
const SHORT_KEY = 20

/** Opens the pool, creates the table when missing, adds the health check; fails naming the host, never the password. */
async function openStore(kernel: KernelApi, database: string, table: string): Promise<KeyStore> {
  const where = describeDatabase(database)
  const pool = openPool(database)
  // An idle connection that drops (database restart) is replaced on the next query; without a listener it would crash the process.
  pool.on('error', (error) => kernel.log.warn({ err: { message: describeConnectionError(error, database) } }, 'an idle key database connection failed'))
  kernel.onClose(() => pool.end())
  const store = new KeyStore(pool, table)
  try {
    await store.migrate()
  } catch (error) {
    throw new Error(`cannot reach the key database at ${where}: ${describeConnectionError(error, database)}`)
  }
  kernel.health.add('auth-keys-db', async () => {
    try {
      await pool.query('select 1')
    } catch (error) {
      throw new Error(`key database at ${where}: ${describeConnectionError(error, database)}`)
    }
  })
  kernel.log.info({ database: where, table }, 'API keys: database store ready')
  return store
}

export default definePlugin<AuthKeysConfig>({
  name: 'auth-keys',
  commands: { keys: keysCommand },
  async register(kernel, config) {
    const settings = settingsFrom(config, kernel.env)
    const configKeys = configKeyTable(settings.keys)
    settings.keys.forEach((entry, i) => {
      if (entry.key.length < SHORT_KEY) {
        kernel.log.warn({ keyId: configKeyId(entry, i) }, `a config key is shorter than ${SHORT_KEY} characters: use a long random secret`)
      }
    })
    const store = settings.database === null ? null : await openStore(kernel, settings.database, settings.table)
    if (store === null && configKeys.size === 0) {
      kernel.log.warn('no keys in the config and no database (database or DATABASE_URL): every API key will be refused')
    }
    const cache = new TtlLru<CachedAnswer>({ ttlMs: settings.cacheTtlMs, max: settings.cacheSize })
    const unknown = new TtlLru<CachedAnswer>({ ttlMs: Math.min(settings.cacheTtlMs, UNKNOWN_KEY_TTL_MS), max: settings.cacheSize })
    kernel.auth.addAuthenticator(createAuthenticator({ configKeys, store, cache, unknown, log: kernel.log }))
  },
})

export { configKeyTable, createAuthenticator, keysCommand, KeyStore, TtlLru }
export { describeDatabase } from './database.js'
export { hashSecret, newSecret, GENERATED_SECRET } from './secrets.js'
export type { AuthKeysConfig, CachedAnswer, ConfigKey }
export type { KeyListing, NewKey, StoredKey } from './store.js'
