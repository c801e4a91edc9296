// Boot and shutdown, as avvio reads: plugins start in dependency order with a per-plugin timeout naming the
// plugin; on close, in-flight requests drain, then onClose handlers run in reverse order of registration.
import { setTimeout as sleep } from 'node:timers/promises'
import { ERR_DRAINING, ERR_PLUGIN_BOOT_FAILED, ERR_PLUGIN_BOOT_TIMEOUT, isRobutlerError } from './errors.js'
import type { Kernel } from './kernel.js'

export interface BootablePlugin {
  name: string
  config: Record<string, unknown>
  definition: { register: (kernel: any, config: any) => void | Promise<void> }
}

async function withTimeout<T>(work: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms)
  })
  try {
    return await Promise.race([work, timeout])
  } finally {
    clearTimeout(timer)
  }
}

export async function bootPlugins(kernel: Kernel, plugins: BootablePlugin[]): Promise<void> {
  for (const plugin of plugins) {
    const started = performance.now()
    try {
      await withTimeout(
        Promise.resolve().then(() => plugin.definition.register(kernel.apiFor(plugin.name), plugin.config)),
        kernel.settings.pluginTimeoutMs,
        () => ERR_PLUGIN_BOOT_TIMEOUT(plugin.name, kernel.settings.pluginTimeoutMs),
      )
    } catch (error: any) {
      // The caller closes what started (closeUnstarted), the plugins that booted first among it.
      if (isRobutlerError(error) && error.code === ERR_PLUGIN_BOOT_TIMEOUT.code) throw error
      throw ERR_PLUGIN_BOOT_FAILED(plugin.name, error?.message ?? String(error), error)
    }
    kernel.log.debug({ plugin: plugin.name, ms: Math.round(performance.now() - started) }, 'plugin started')
  }
}

export async function runCloseHandlers(kernel: Kernel): Promise<void> {
  while (kernel.closeFns.length > 0) {
    const { owner, fn } = kernel.closeFns.pop()!
    try {
      await fn()
    } catch (error) {
      kernel.log.error({ err: error, plugin: owner }, 'onClose handler failed')
    }
  }
}

/**
 * Stops taking agent requests (they get 503 and health turns 503), waits up to the drain timeout for in-flight
 * requests and streams to finish, aborts what is left, then closes the listener and the plugins.
 */
export async function drainAndClose(kernel: Kernel): Promise<void> {
  kernel.draining = true
  const started = Date.now()
  const waiting = kernel.inflight.size
  const deadline = started + kernel.settings.drainTimeoutMs
  while (kernel.inflight.size > 0 && Date.now() < deadline) await sleep(20)
  if (kernel.inflight.size > 0) {
    kernel.log.warn({ inflight: kernel.inflight.size }, 'drain timeout: aborting in-flight requests')
    for (const context of kernel.inflight) context.abort(ERR_DRAINING())
    await sleep(50)
  } else if (kernel.booted) {
    kernel.log.info({ finished: waiting, durationMs: Date.now() - started }, `drain complete: ${waiting} in-flight request(s) finished; closing`)
  }
  // Connections still open after the drain (a client that never reads, a half-closed socket) must not hold
  // the process: they get one more second, then are cut.
  const cut = setTimeout(() => kernel.app.server.closeAllConnections(), 1000)
  try {
    await kernel.app.close()
  } finally {
    clearTimeout(cut)
  }
  kernel.stopTimeoutSweep()
  await runCloseHandlers(kernel)
  await kernel.pool.close()
  kernel.gatherer.close()
}

/** A server that failed to start (a plugin's boot, an agent, a ready hook): closes whatever had started. */
export async function closeUnstarted(kernel: Kernel): Promise<void> {
  await runCloseHandlers(kernel)
  await kernel.pool.close()
  // Closing runs the app's own onClose hooks (routes and hooks plugins added); the start's error is what matters.
  await kernel.app.close().catch((error) => kernel.log.error({ err: error }, 'closing the server after a failed start failed'))
  kernel.gatherer.close()
}
