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
      'Why (when it misses): the authenticated request costs ~10–13 µs more CPU where an anonymous one costs ~50 µs ' +
      "(2 cores; 0.85–0.93× on a 3× slower machine). perf: ≈ 3 µs in the kernel's AuthChain run and " +
      "plugin-auth-keys (SHA-256 by crypto.hash, a constant-time compare, the identity), ≈ 3.5 µs more in the route " +
      "(the chain's promise hop before the agent resolves), the rest in the longer request and in the loopback wake-up " +
      "effect described under 'kernel overhead, JSON'.",
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
