// What every bench server does as a child of bench/lib.mjs's startServer: sends the parent { port, ...extra }
// over IPC once listening, then on the parent's disconnect or SIGTERM closes (`close`) and exits — after 3 s
// at the latest, whatever is still open.
export function serveChild(port, close, extra = {}) {
  process.send({ port, ...extra })
  let closing = false
  async function stop() {
    if (closing) return
    closing = true
    setTimeout(() => process.exit(0), 3000).unref()
    try {
      await close()
    } finally {
      process.exit(0)
    }
  }
  process.on('disconnect', stop)
  process.on('SIGTERM', stop)
}

/** The port of a listen() address such as `http://127.0.0.1:41234`. */
export function portOf(address) {
  return Number(new URL(address).port)
}
