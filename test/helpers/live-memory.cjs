// Preloaded into the soak's server (NODE_OPTIONS: --expose-gc --require this file). On SIGPWR it runs two full
// garbage collections and prints one line with what is still alive, so the soak judges retained memory — a leak —
// and not RSS alone, which also moves as V8 sizes its heap to the load. Nothing else of the server changes.
'use strict'
process.on('SIGPWR', () => {
  globalThis.gc()
  globalThis.gc()
  const { heapUsed, external, arrayBuffers, rss } = process.memoryUsage()
  process.stdout.write(`${JSON.stringify({ soakLiveMemory: { heapUsed, external, arrayBuffers, rss, at: Date.now() } })}\n`)
})
