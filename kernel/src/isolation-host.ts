// The isolation host: one worker thread per server that owns every isolated skill's process pool (isolation.ts).
// Forking a process, watching its memory and replacing it happen here, off the server's event loop; the server
// talks to this thread in messages (isolated-skill.ts). It imports nothing that serves HTTP.
import { parentPort } from 'node:worker_threads'
import { IsolatedPool, type IsolatedSkillOptions, type PoolLog } from './isolation.js'

/** What the server asks the host. */
export type HostRequest =
  | { type: 'open'; id: number; skill: string; options: Omit<IsolatedSkillOptions, 'log'> }
  | { type: 'setup'; id: number; skill: string; agent: string; config: Record<string, unknown> }
  | { type: 'call'; id: number; skill: string; agent: string; tool: string; args: Record<string, unknown> }
  | { type: 'abort'; id: number; call: number }
  | { type: 'close'; id: number; skill: string }

/** What the host answers: a result, or an error with the message and code it had. */
export type HostAnswer =
  | { id: number; ok: true; value?: unknown }
  | { id: number; ok: false; error: string; code?: string }
  | { log: 'info' | 'warn' | 'error' | 'debug'; object: Record<string, unknown>; message: string }

const port = parentPort!
const pools = new Map<string, IsolatedPool>()
const calls = new Map<number, AbortController>()

const log: PoolLog = {
  info: (object, message) => port.postMessage({ log: 'info', object, message }),
  warn: (object, message) => port.postMessage({ log: 'warn', object, message }),
  error: (object, message) => port.postMessage({ log: 'error', object: { ...object, err: String((object.err as Error)?.message ?? object.err ?? '') }, message }),
  debug: (object, message) => port.postMessage({ log: 'debug', object, message }),
}

function pool(skill: string): IsolatedPool {
  const found = pools.get(skill)
  if (!found) throw new Error(`no isolated pool for ${skill}`)
  return found
}

async function handle(request: HostRequest): Promise<unknown> {
  switch (request.type) {
    case 'open':
      if (!pools.has(request.skill)) pools.set(request.skill, new IsolatedPool({ ...request.options, log }))
      return undefined
    case 'setup':
      return pool(request.skill).setup(request.agent, request.config)
    case 'call': {
      const controller = new AbortController()
      calls.set(request.id, controller)
      try {
        return await pool(request.skill).call(request.agent, request.tool, request.args, controller.signal)
      } finally {
        calls.delete(request.id)
      }
    }
    case 'abort':
      calls.get(request.call)?.abort(new Error('the call was aborted'))
      return undefined
    case 'close': {
      const closing = pools.get(request.skill)
      pools.delete(request.skill)
      await closing?.close()
      return undefined
    }
  }
}

port.on('message', (request: HostRequest) => {
  handle(request).then(
    (value) => port.postMessage({ id: request.id, ok: true, value } satisfies HostAnswer),
    (error: any) => port.postMessage({ id: request.id, ok: false, error: String(error?.message ?? error), code: error?.code } satisfies HostAnswer),
  )
})
