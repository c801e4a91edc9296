// dynamic-agents: kernel-json on a cached dynamic agent against a static one, on the same server.
import { ask, startServer, stopServer } from '../lib.mjs'
import { pairedRuns, pairedSeconds, runPaired } from '../overhead.mjs'

/** The kernel caches a loaded agent this long (kernel/src/agents.ts): a measurement of a dynamic agent must fit. */
const DYNAMIC_TTL_S = 60

export const dynamicAgents = {
  id: 'dynamic-agents',
  name: 'dynamic agents',
  connections: 50,
  minRatio: 0.95,
  why: {
    'req/s':
      'Why: a cached dynamic agent costs AgentDirectory.resolve (name check, Map get, LRU re-insert): 0.9% of CPU in a profile ' +
      '(PROFILE_PATH=/dyn/chat/completions bench/profile.mjs json kernel-dynamic) against 0.1% for a static agent; a larger ' +
      "gap is noise or warm-up drift between the runs: compare 'server CPU µs/req' and the two static runs.",
  },
  run: (context) => runPaired(dynamicAgents, () => setupDynamic(context), context),
  method: (context) =>
    `Dynamic agents (dynamic-agents): one kernel (bench/servers/kernel-dynamic.mjs) with agent 'static' (local/echo) in its ` +
    `config and dynamicAgents: (name) => name === 'dyn' ? { name: 'dyn', model: 'local/echo' } : null; the kernel-overhead JSON ` +
    `load (${dynamicAgents.connections} connections, ${pairedRuns('static', 'dynamic', context)}) on /static and /dyn in turn; ratio of the means. The dynamic agent is first asked for (and loaded) right before its warm-up, so its cache entry (${DYNAMIC_TTL_S} s TTL) ` +
    `outlives both dynamic runs; the server counts dynamicAgents calls, checked to be 1 from the first dynamic run to the end.`,
}

/** One kernel, static agent `static` vs dynamic agent `dyn` (loaded, then served from the cache). */
async function setupDynamic(context) {
  const server = await startServer('kernel-dynamic')
  let loadsBefore = null
  return {
    base: { label: 'static', server, path: '/static/chat/completions', headers: {} },
    subject: {
      label: 'dynamic (cached)',
      server,
      path: '/dyn/chat/completions',
      headers: {},
      // Its first load happens here, with measureSide's answer check, so the cache entry is fresh when the warm-up starts.
      before: async () => {
        loadsBefore ??= (await ask(server, 'stats')).loads
      },
    },
    cleanup: () => stopServer(server),
    notes: async () => {
      const loads = (await ask(server, 'stats')).loads - loadsBefore
      const notes = []
      // From the dynamic side's first run to the end of its last: three runs (dynamic, static, dynamic).
      const span = 3 * (context.warmup + pairedSeconds(context))
      if (span > DYNAMIC_TTL_S - 5) {
        notes.push(`dynamic agents: the dynamic runs span ${span} s, longer than the kernel's ${DYNAMIC_TTL_S} s agent cache, so the dynamic agent was reloaded during them.`)
      }
      // One load for the whole run: every measured request was a cache hit.
      if (loads !== 1) notes.push(`dynamic agents: dynamicAgents('dyn') was called ${loads} times from the dynamic agent's first request to the end (1 expected).`)
      return notes
    },
  }
}
