// Startup time of the kernel: reads { plugins, agents } from BENCH_STARTUP_CONFIG (a JSON file), then times
// `import('@robutler/kernel')`, and createServer({ appDir: BENCH_APP_DIR, plugins, agents }) until server.listen
// resolves on 127.0.0.1:0 (logLevel 'info', its default destination: stdout, which the bench points at /dev/null).
// Sends { port, importMs, startMs, sinceProcessMs } to the parent over IPC: startMs = createServer → listening,
// sinceProcessMs = from the process's time origin to listening. Exits when the parent disconnects.
import { readFileSync } from 'node:fs'
import { portOf, serveChild } from './child.mjs'

const appDir = process.env.BENCH_APP_DIR
const configFile = process.env.BENCH_STARTUP_CONFIG
if (!appDir || !configFile) throw new Error('startup-kernel needs BENCH_APP_DIR and BENCH_STARTUP_CONFIG')
const { plugins, agents } = JSON.parse(readFileSync(configFile, 'utf8'))

const t0 = performance.now()
const { createServer } = await import('@robutler/kernel')
const t1 = performance.now()
const server = await createServer({ appDir, plugins, agents, logLevel: 'info', env: {} })
const address = await server.listen({ host: '127.0.0.1', port: 0 })
const t2 = performance.now()
serveChild(portOf(address), () => server.close(), { importMs: t1 - t0, startMs: t2 - t1, sinceProcessMs: t2 })
