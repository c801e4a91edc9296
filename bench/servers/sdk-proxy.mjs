// The floor for provider-ttfb: bare Fastify (the kernel's own fastify, logger off) passing a streamed chat
// completion through the same openai SDK that plugin-openai uses, set up as it sets it up (retries off, the
// kernel's createProviderFetch), chunk by chunk, then [DONE] — no agent, no runtime, no retry layer, no logs.
// What is left between it and the kernel is the kernel's own.
// Needs BENCH_UPSTREAM_URL. Listens on 127.0.0.1:0 and sends { port } to the parent over IPC.
import { createRequire } from 'node:module'
import { createProviderFetch } from '@robutler/kernel'
import { portOf, serveChild } from './child.mjs'

const require = createRequire(new URL('../../kernel/package.json', import.meta.url))
const { default: Fastify } = await import(require.resolve('fastify'))
const openaiRequire = createRequire(new URL('../../plugins/openai/package.json', import.meta.url))
const { default: OpenAI } = await import(openaiRequire.resolve('openai'))

const upstream = process.env.BENCH_UPSTREAM_URL
if (!upstream) throw new Error('sdk-proxy needs BENCH_UPSTREAM_URL (the fake upstream, http://127.0.0.1:PORT)')
const client = new OpenAI({ apiKey: 'sk-bench', baseURL: `${upstream}/v1`, maxRetries: 0, fetch: createProviderFetch().fetch })

const app = Fastify({ logger: false })
app.post('/:agent/chat/completions', async (request, reply) => {
  const controller = new AbortController()
  const stream = await client.chat.completions.create(
    { model: 'gpt-bench', messages: request.body.messages, stream: true, stream_options: { include_usage: true } },
    { signal: controller.signal },
  )
  reply.hijack()
  const raw = reply.raw
  raw.once('close', () => controller.abort())
  raw.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' })
  for await (const chunk of stream) raw.write(`data: ${JSON.stringify(chunk)}\n\n`)
  raw.end('data: [DONE]\n\n')
})

const address = await app.listen({ host: '127.0.0.1', port: 0 })
serveChild(portOf(address), () => app.close())
