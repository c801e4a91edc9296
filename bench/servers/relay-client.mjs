// The client of bench/relay, in its own process so that its work is not charged to the relays: on { cmd: 'run',
// url, body, streams, skip, spreadMs } over IPC it opens `streams` streamed completions at `url` (their starts spread
// over `spreadMs`, one keep-alive socket each), reads each to [DONE], and answers { cmd: 'run', ... }: the SSE events
// received, failures, each content chunk's delay (receive time minus the send time the stamped upstream wrote in it,
// see fake-openai.mjs; each stream's first `skip` content chunks left out) and the times (epoch ms) by which every
// stream had its first chunk and by which the first stream ended — the window in which all are held.
import http from 'node:http'

const now = () => performance.timeOrigin + performance.now()

function oneStream(url, body, agent, skip, out) {
  return new Promise((resolve) => {
    let buffered = ''
    let contentSeen = 0
    let first = true
    let done = false
    const finish = (error) => {
      if (done) return
      done = true
      if (error) {
        out.failures++
        out.firstFailure ??= String(error.message ?? error)
      }
      if (first) out.opened++
      out.firstEnd = Math.min(out.firstEnd, now())
      resolve()
    }
    const request = http.request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (response) => {
      if (response.statusCode !== 200) {
        response.resume()
        return finish(new Error(`status ${response.statusCode}`))
      }
      response.setEncoding('utf8')
      response.on('data', (text) => {
        const t = now()
        if (first) {
          first = false
          out.opened++
          out.allOpen = Math.max(out.allOpen, t)
        }
        buffered += text
        let end
        while ((end = buffered.indexOf('\n\n')) >= 0) {
          const event = buffered.slice(0, end)
          buffered = buffered.slice(end + 2)
          if (!event.startsWith('data: ')) continue
          out.events++
          if (event === 'data: [DONE]') {
            out.completed++
            continue
          }
          const at = event.indexOf('"content":"t')
          if (at < 0) continue
          const sent = Number.parseFloat(event.slice(at + 12))
          if (contentSeen++ >= skip) out.delays.push(t - sent)
        }
      })
      response.on('end', () => finish(buffered.length > 0 ? new Error('stream ended mid-event') : null))
      response.on('error', finish)
    })
    request.on('error', finish)
    request.end(body)
  })
}

async function run({ url, body, streams, skip, spreadMs }) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity })
  const out = { events: 0, completed: 0, failures: 0, firstFailure: null, opened: 0, allOpen: 0, firstEnd: Infinity, delays: [] }
  const started = now()
  const all = []
  for (let i = 0; i < streams; i++) {
    const due = started + (spreadMs * i) / streams
    const wait = due - now()
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait))
    all.push(oneStream(url, body, agent, skip, out))
  }
  await Promise.all(all)
  agent.destroy()
  out.delays.sort((a, b) => a - b)
  const at = (p) => (out.delays.length ? out.delays[Math.min(out.delays.length - 1, Math.ceil(p * out.delays.length) - 1)] : null)
  return {
    events: out.events, completed: out.completed, failures: out.failures, firstFailure: out.firstFailure,
    started, ended: now(), allOpen: out.allOpen, firstEnd: out.firstEnd,
    delayCount: out.delays.length, delayP50: at(0.5), delayP99: at(0.99), delayMax: out.delays.at(-1) ?? null,
  }
}

process.on('message', async (message) => {
  if (message?.cmd !== 'run') return
  try {
    process.send({ cmd: 'run', ...(await run(message)) })
  } catch (error) {
    process.send({ cmd: 'run', error: String(error.stack ?? error) })
  }
})
process.on('disconnect', () => process.exit(0))
process.send({ ready: true })
