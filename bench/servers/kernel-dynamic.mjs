// The kernel with a static and a dynamic agent on the same server: agent `static` (local/echo) from the config and
// agent `dyn` (local/echo) from the dynamicAgents function, which the kernel caches once loaded (60 s TTL);
// plugin-local, logLevel 'info', its default log destination (stdout, which the bench points at /dev/null),
// env {}. Over IPC, { cmd: 'stats' } answers { loads }: how often dynamicAgents was asked for `dyn`.
// Listens on 127.0.0.1:0 and sends { port } to the parent over IPC; exits when the parent disconnects.
import { createServer } from '@robutler/kernel'
import { REPO_DIR } from './app.mjs'
import { portOf, serveChild } from './child.mjs'

let loads = 0
const server = await createServer({
  appDir: REPO_DIR,
  plugins: { '@robutler/plugin-local': {} },
  agents: [{ name: 'static', model: 'local/echo' }],
  dynamicAgents: async (name) => {
    if (name !== 'dyn') return null
    loads++
    return { name: 'dyn', model: 'local/echo' }
  },
  logLevel: 'info',
  env: {},
})
process.on('message', (message) => {
  if (message?.cmd === 'stats') process.send({ cmd: 'stats', loads })
})
const address = await server.listen({ host: '127.0.0.1', port: 0 })
serveChild(portOf(address), () => server.close())
