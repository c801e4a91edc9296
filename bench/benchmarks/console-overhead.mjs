// console-overhead: kernel-json with plugin-console enabled (its recorder listening to the kernel's events, no page
// open) against the same kernel without it.
import { fail, PATH } from '../answers.mjs'
import { get, startServer, stopServer } from '../lib.mjs'
import { pairedRuns, runPaired } from '../overhead.mjs'

export const consoleOverhead = {
  id: 'console-overhead',
  name: 'console overhead (enabled, not open)',
  connections: 50,
  minRatio: 0.98,
  why: {
    'req/s':
      'Why (when it misses): the console listens to request:end, llm:start/end and tool:end on every request: a few ' +
      'stores into columns of typed arrays and a latency sample each (no object kept, no clock read); the sorting and ' +
      'summing run once a second. A CPU profile (node bench/profile.mjs json kernel with BENCH_KERNEL_CONSOLE=1) puts ' +
      "its listeners near 0.3% of the server's CPU and the kernel's emitting of those events under 1%; on a loaded " +
      'machine the paired runs differ by more than that from one run to the next.',
  },
  run: (context) => runPaired(consoleOverhead, setupConsole, context),
  method: (context) =>
    `Console overhead (console-overhead): two kernels (bench/servers/kernel.mjs), the same but for ` +
    `@robutler/plugin-console {} on one (checked first: its page answers 200, the other's is 404; and after the load, ` +
    `that its recent requests hold the load's answers); the kernel-overhead JSON load ` +
    `(${consoleOverhead.connections} connections, ${pairedRuns('without', 'with', context)}) runs on each in turn; ratio: ` +
    `the mean req/s with over the mean without.`,
}

async function setupConsole() {
  const plain = await startServer('kernel')
  let consoled
  try {
    consoled = await startServer('kernel', { env: { BENCH_KERNEL_CONSOLE: '1' } })
    const page = await get(consoled, '/console')
    if (page.status !== 200 || !page.text.includes('robutler-console')) fail(`/console on the console kernel: ${page.status} ${page.text.slice(0, 200)}`)
    const none = await get(plain, '/console')
    if (none.status !== 404) fail(`/console on the plain kernel answered ${none.status}, not 404`)
  } catch (error) {
    if (consoled) await stopServer(consoled)
    await stopServer(plain)
    throw error
  }
  return {
    base: { label: 'without', server: plain, path: PATH, headers: {} },
    subject: { label: 'with console', server: consoled, path: PATH, headers: {} },
    cleanup: async () => {
      await stopServer(consoled)
      await stopServer(plain)
    },
    notes: async () => {
      const recent = await get(consoled, '/console/api/requests')
      const count = recent.status === 200 ? JSON.parse(recent.text).requests.length : 0
      return count > 0 ? [] : [`console overhead: its recent requests were empty after the load (${recent.status}).`]
    },
  }
}
