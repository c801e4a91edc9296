// @robutler/plugin-rate-limit: per-caller window limits (per agent where configured) and a parallel cap on agent
// routes; counters in memory or, with Redis, shared by every process and instance (leased: windows.ts).
import { definePlugin } from '@robutler/kernel'
import { resolveSettings, type AgentLimitConfig, type RateLimitConfig, type TimeWindow } from './config.js'
import { createLimitHook } from './limiter.js'
import { ParallelCap } from './parallel.js'
import { closeRedis, connectRedis, OutageLog, redisLocation, STORE_DOWN } from './redis.js'
import { appendHook, countingHook } from './routes.js'
import { MemoryWindows, RedisWindows, type WindowStore } from './windows.js'

/**
 * The plugin. Enable it in the config's `plugins` section.
 * @example
 * // robutler.config.json
 * { "plugins": { "@robutler/plugin-rate-limit": { "max": 60, "timeWindow": "1 minute", "maxParallel": 4,
 *                                                  "agents": { "support": { "max": 10 } } } } }
 */
export default definePlugin<RateLimitConfig>({
  name: 'rate-limit',
  async register(kernel, config) {
    const settings = resolveSettings(config ?? {}, kernel.env)

    const store = settings.redisUrl === null ? 'memory' : redisLocation(settings.redisUrl)
    const outages = new OutageLog(kernel.log, store)
    let windows: WindowStore
    if (settings.redisUrl !== null) {
      const client = await connectRedis(settings.redisUrl, outages)
      kernel.onClose(() => closeRedis(client))
      kernel.health.add('rate-limit-redis', async () => {
        await client.ping()
      })
      windows = new RedisWindows(client, settings.keyPrefix)
    } else {
      windows = new MemoryWindows()
    }

    const { auth } = kernel
    const hook = createLimitHook({
      settings,
      // A kernel before identifyNow: the same answer through a promise.
      identify: typeof auth.identifyNow === 'function' ? (request) => auth.identifyNow(request) : (request) => auth.identify(request),
      windows,
      parallel: settings.maxParallel === null ? null : new ParallelCap(settings.maxParallel),
      onStoreError: (error) => outages.warn(error, STORE_DOWN),
      onReject: (request, limit, agent) => kernel.events.emit('limit:rejected', { requestId: request.id, limit, agent }),
    })
    const prefix = kernel.urlPrefix
    kernel.http.addHook('onRoute', function limitAgentRoutes(route) {
      const when = countingHook(route, prefix)
      if (when !== null) appendHook(route, when, hook)
    })

    kernel.log.info(
      {
        store,
        max: settings.global.max,
        timeWindowMs: settings.global.timeWindowMs,
        maxParallel: settings.maxParallel,
        agents: [...settings.agents.keys()],
      },
      'rate limits on agent routes',
    )
  },
})

export type { AgentLimitConfig, RateLimitConfig, TimeWindow }
