// auth-overhead: kernel-json with plugin-auth-keys, a Bearer key against no credential, on the same server.
import { randomBytes } from 'node:crypto'
import { fail, JSON_BODY, PATH } from '../answers.mjs'
import { probe, startServer, stopServer } from '../lib.mjs'
import { pairedRuns, runPaired } from '../overhead.mjs'

export const authOverhead = {
  id: 'auth-overhead',
  name: 'auth overhead',
  connections: 50,
  minRatio: 0.9,
  why: {
    'req/s':
      'Why (when it misses): bench/profile.mjs json kernel with BENCH_KERNEL_AUTH_KEY. The key is checked without a ' +
      "promise (AuthChain.identifyNow: the admission no longer waits a microtask for the chain's answer): " +
      "plugin-auth-keys' SHA-256 by crypto.hash (~0.9 µs), one Map look-up by the hash (its hit is the match), the " +
      "identity: ≈ 1.5% of the request's CPU; the rest in the longer request (the Authorization header) and in the " +
      "loopback wake-up effect described under 'kernel overhead, JSON'. Before: ≈ 3 µs in the chain and the plugin " +
      '(a Buffer and a constant-time compare after the hit) and ≈ 3.5 µs in the promise hop (0.84×).',
  },
  run: (context) => runPaired(authOverhead, setupAuth, context),
  method: (context) =>
    `Auth overhead (auth-overhead): one kernel (bench/servers/kernel.mjs: plugin-local, agent 'echo', env {} so no ` +
    `DATABASE_URL) with @robutler/plugin-auth-keys { keys: [{ key: 'rbt_' + 43 random base64url characters, userId: 'bench', ` +
    `scope: 'all' }] } (checked first: a wrong key gets 401); the kernel-overhead JSON load (${authOverhead.connections} connections, ` +
    `${pairedRuns('anonymous', 'authenticated', context)}) without an Authorization header and with 'Authorization: Bearer <key>' in turn, on the same server; the ` +
    `ratio is the authenticated runs' mean req/s over the anonymous runs'.`,
}

/** One kernel with plugin-auth-keys (one config key, no database); Bearer key vs no credential. */
async function setupAuth() {
  const key = `rbt_${randomBytes(32).toString('base64url')}`
  const server = await startServer('kernel', { env: { BENCH_KERNEL_AUTH_KEY: key } })
  try {
    // The authenticator must be in the path: a wrong key is refused, so the right one is really checked.
    const wrong = await probe(server, { path: PATH, body: JSON_BODY, headers: { authorization: `Bearer rbt_${'x'.repeat(43)}` } })
    if (wrong.status !== 401) fail(`a wrong key answered ${wrong.status}, not 401: ${wrong.text.slice(0, 200)}`)
  } catch (error) {
    await stopServer(server)
    throw error
  }
  return {
    base: { label: 'anonymous', server, path: PATH, headers: {} },
    subject: { label: 'authenticated', server, path: PATH, headers: { authorization: `Bearer ${key}` } },
    cleanup: () => stopServer(server),
  }
}
