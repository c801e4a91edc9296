// The kernel in front of an OpenAI-compatible upstream: @robutler/plugin-openai (the real openai SDK) with
// { apiKey: 'sk-bench', baseURL: BENCH_UPSTREAM_URL + '/v1' } and agent `bench` on `openai/gpt-bench`,
// logLevel 'info', no per-address connection limit, its default log destination (stdout, batched), which the bench points at /dev/null.
// Listens on 127.0.0.1:0 and sends { port } to the parent over IPC; exits when the parent disconnects.
import { createServer } from '@robutler/kernel'
import { REPO_DIR } from './app.mjs'
import { portOf, serveChild } from './child.mjs'

const upstream = process.env.BENCH_UPSTREAM_URL
if (!upstream) throw new Error('kernel-openai needs BENCH_UPSTREAM_URL (the fake upstream, http://127.0.0.1:PORT)')

const server = await createServer({
  appDir: REPO_DIR,
  plugins: { '@robutler/plugin-openai': { apiKey: 'sk-bench', baseURL: `${upstream}/v1` } },
  agents: [{ name: 'bench', model: 'openai/gpt-bench' }],
  logLevel: 'info',
  // The bench's client is one address holding up to thousands of streams (bench/relay), as a load balancer would.
  maxConnectionsPerIp: 0,
  env: {},
})
const address = await server.listen({ host: '127.0.0.1', port: 0 })
serveChild(portOf(address), () => server.close())
