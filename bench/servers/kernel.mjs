// The kernel under test: plugin-local with the echo agent, logLevel 'info', its default log destination
// (stdout, batched) which the bench points at /dev/null.
// BENCH_KERNEL_LOG_LEVEL overrides the level for diagnosis only (run.mjs always measures 'info').
// Listens on 127.0.0.1:0 and sends { port } to the parent over IPC; exits when the parent disconnects.
import { fileURLToPath } from 'node:url'
import { createServer } from '@robutler/kernel'

const appDir = fileURLToPath(new URL('../..', import.meta.url))
const server = await createServer({
  appDir,
  plugins: { '@robutler/plugin-local': {} },
  agents: [{ name: 'echo', model: 'local/echo' }],
  logLevel: process.env.BENCH_KERNEL_LOG_LEVEL || 'info',
})
const address = await server.listen({ host: '127.0.0.1', port: 0 })
const port = typeof address === 'string' ? Number(new URL(address).port) : address.port
process.send({ port })

let closing = false
async function stop() {
  if (closing) return
  closing = true
  const timer = setTimeout(() => process.exit(0), 3000)
  timer.unref()
  try { await server.close() } finally { process.exit(0) }
}
process.on('disconnect', stop)
process.on('SIGTERM', stop)
