import { fork } from 'node:child_process'
import { startServer, stopServer } from './lib.mjs'
const up = await startServer('fake-openai', { env: { BENCH_UPSTREAM_CHUNK_DELAY_MS: '100', BENCH_UPSTREAM_CHUNKS: '50', BENCH_UPSTREAM_STAMP: '1' } })
const k = await startServer('kernel-openai', { env: { BENCH_UPSTREAM_URL: up.url }, execArgv: ['--cpu-prof', '--cpu-prof-dir=/tmp/wt24-prof'] })
const c = fork(new URL('./servers/relay-client.mjs', import.meta.url).pathname)
await new Promise((r) => c.once('message', r))
const body = JSON.stringify({ model: 'x', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'hi' }] })
for (let i = 0; i < 2; i++) {
  c.send({ cmd: 'run', url: k.url + '/bench/chat/completions', body, streams: 1000, skip: 5, spreadMs: 1000 })
  const r = await new Promise((res) => c.on('message', (m) => m.cmd === 'run' && res(m)))
  console.log(r.events, r.failures, r.delayP99)
}
c.kill()
await stopServer(k); await stopServer(up)
