// The kernel with a CPU-heavy worker tool: plugin-local (local/echo) and the test fixture skill robutler-skill-cpu
// (tool `busy {ms}` burns the CPU in its worker module) on agent `cpu`, logLevel 'info', its default log destination
// (stdout, batched), which the bench points at /dev/null.
//   BENCH_APP_DIR         an app folder whose node_modules link @robutler/plugin-local and robutler-skill-cpu
//   BENCH_WORKER_THREADS  server.workerThreads: 0 runs worker tools on the main thread
// Watches its own main-thread event-loop delay (perf_hooks.monitorEventLoopDelay, 1 ms resolution); over IPC,
// { cmd: 'loop-reset' } starts a fresh window and { cmd: 'loop-report' } answers its percentiles in ms.
// Listens on 127.0.0.1:0 and sends { port } to the parent over IPC; exits when the parent disconnects.
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { createServer } from '@robutler/kernel'
import { portOf, serveChild } from './child.mjs'

const appDir = process.env.BENCH_APP_DIR
const threads = Number(process.env.BENCH_WORKER_THREADS)
if (!appDir || !Number.isInteger(threads) || threads < 0) {
  throw new Error('kernel-cpu needs BENCH_APP_DIR and BENCH_WORKER_THREADS (an integer ≥ 0)')
}

const server = await createServer({
  appDir,
  workerThreads: threads,
  plugins: { '@robutler/plugin-local': {} },
  // The pool is what is measured: the fixture skill runs in process, not isolated.
  skills: { 'robutler-skill-cpu': { isolate: false } },
  agents: [{ name: 'cpu', model: 'local/echo', skills: { 'robutler-skill-cpu': {} } }],
  logLevel: 'info',
})

const delay = monitorEventLoopDelay({ resolution: 1 })
delay.enable()
const ms = (ns) => ns / 1e6
process.on('message', (message) => {
  if (message?.cmd === 'loop-reset') {
    delay.reset()
    process.send({ cmd: 'loop-reset' })
  } else if (message?.cmd === 'loop-report') {
    process.send({
      cmd: 'loop-report',
      count: delay.count,
      p50: ms(delay.percentile(50)),
      p99: ms(delay.percentile(99)),
      max: ms(delay.max),
      mean: ms(delay.mean),
    })
  }
})

const address = await server.listen({ host: '127.0.0.1', port: 0 })
serveChild(portOf(address), () => {
  delay.disable()
  return server.close()
})
