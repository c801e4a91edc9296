// Startup time of bare Fastify (the kernel's own fastify package, logger off), the baseline of startup-kernel:
// times `import('fastify')`, and Fastify() with one POST route until app.listen resolves on 127.0.0.1:0.
// Sends { port, importMs, startMs, sinceProcessMs } to the parent over IPC: startMs = Fastify() → listening,
// sinceProcessMs = from the process's time origin to listening. Exits when the parent disconnects.
import { createRequire } from 'node:module'
import { portOf, serveChild } from './child.mjs'

// Resolve fastify from the kernel package, so both sides run the very same fastify.
const require = createRequire(new URL('../../kernel/package.json', import.meta.url))
const fastifyPath = require.resolve('fastify')

const t0 = performance.now()
const { default: Fastify } = await import(fastifyPath)
const t1 = performance.now()
const app = Fastify({ logger: false })
app.post('/:agent/chat/completions', async (request) => ({ object: 'chat.completion', echo: request.body }))
const address = await app.listen({ host: '127.0.0.1', port: 0 })
const t2 = performance.now()
serveChild(portOf(address), () => app.close(), { importMs: t1 - t0, startMs: t2 - t1, sinceProcessMs: t2 })
