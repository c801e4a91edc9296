// @robutler/plugin-agents-file: dynamic agents from a folder of JSON files, one NAME.json per agent, served
// within a second of a change and without a restart.
import { constants } from 'node:fs'
import { access, readdir } from 'node:fs/promises'
import { agentNameProblem, definePlugin, type KernelApi } from '@robutler/kernel'
import { settingsOf, type AgentsFileConfig } from './config.js'
import { AgentFileStore, agentOfFile } from './store.js'
import { DirWatcher } from './watcher.js'

/** Events for one file within this many milliseconds are handled once (editors write a file in several steps). */
const DEBOUNCE_MS = 50
const RETRY_MS = 1_000
/** Files read at once when the whole folder is read again (a folder of thousands must not exhaust descriptors). */
const RESCAN_CONCURRENCY = 32

/** Reads the file again (logging it when it is not valid JSON), then has the kernel drop its cached agent. */
async function refresh(kernel: KernelApi, store: AgentFileStore, name: string, ignored: Set<string>): Promise<void> {
  // A file named so is never asked for: the kernel checks the name before any loader runs.
  const unservable = agentNameProblem(name)
  if (unservable !== null) {
    if (!ignored.has(name)) {
      ignored.add(name)
      kernel.log.warn({ file: store.fileOf(name) }, `agent file ${store.fileOf(name)} is ignored: ${unservable}`)
    }
    return
  }
  store.forget(name)
  try {
    await store.load(name)
  } catch (error: any) {
    // A bad agent file is answered to whoever asks for that agent; reading it here only primes the cache.
    kernel.log.debug({ agent: name, error: error?.message }, 'agent file changed and is not servable')
  }
  kernel.agents.invalidate(name)
}

async function refreshAll(kernel: KernelApi, store: AgentFileStore, ignored: Set<string>): Promise<void> {
  const names = new Set(store.names())
  const entries = await readdir(store.dir).catch(() => [] as string[])
  for (const entry of entries) {
    const name = agentOfFile(entry)
    if (name !== null) names.add(name)
  }
  const queue = [...names]
  const worker = async () => {
    for (let name = queue.pop(); name !== undefined; name = queue.pop()) await refresh(kernel, store, name, ignored)
  }
  await Promise.all(Array.from({ length: Math.min(RESCAN_CONCURRENCY, queue.length) }, worker))
}

export default definePlugin<AgentsFileConfig>({
  name: 'agents-file',
  async register(kernel, config) {
    const settings = settingsOf(config ?? {}, kernel.baseDir)
    const store = new AgentFileStore(settings.dir, kernel.log)
    // Files already warned about as never servable: warned once, not on every save.
    const ignored = new Set<string>()

    kernel.agents.addLoader(
      function agentsFile(name, { signal }) {
        return store.load(name, signal)
      },
      {
        priority: settings.priority,
        // Every NAME.json of the folder (GET /agents and /models list them); a bad one is left out when it loads.
        list: async () => (await readdir(settings.dir).catch(() => [] as string[])).flatMap((entry) => agentOfFile(entry) ?? []),
      },
    )

    const watcher = new DirWatcher({
      dir: settings.dir,
      debounceMs: DEBOUNCE_MS,
      retryMs: RETRY_MS,
      onChange: (name) => refresh(kernel, store, name, ignored),
      onRescan: () => refreshAll(kernel, store, ignored),
      log: kernel.log,
    })
    kernel.onClose(() => watcher.close())
    await watcher.start()

    kernel.health.add('agents-file', async () => {
      try {
        await access(settings.dir, constants.R_OK | constants.X_OK)
      } catch (error: any) {
        throw new Error(`agents folder ${settings.dir} is not readable (${error?.code ?? error?.message})`)
      }
    })
  },
})

export { AgentFileStore, settingsOf }
export type { AgentsFileConfig }
