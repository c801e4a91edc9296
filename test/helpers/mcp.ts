// What the MCP tests share: the fixture servers' paths, a chat turn that calls one tool through the echo model,
// and waiting for a condition with a deadline.
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { ROOT, postJson } from './test-server.js'

export const STDIO_FIXTURE = join(ROOT, 'test/fixtures/mcp/stdio-server.mjs')
export const MEMORY_SERVER = join(ROOT, 'node_modules/@modelcontextprotocol/server-memory/dist/index.js')

/**
 * One chat turn on `agent` whose user message is the echo model's `/tool NAME {json}` line: the answer is the
 * tool's result (or its error text), as the model read it.
 */
export async function callThroughAgent(baseUrl: string, agent: string, tool: string, args: unknown = {}, headers: Record<string, string> = {}): Promise<string> {
  const res = await postJson(`${baseUrl}/${agent}/chat/completions`, { messages: [{ role: 'user', content: `/tool ${tool} ${JSON.stringify(args)}` }] }, headers)
  if (res.status !== 200) throw new Error(`chat answered ${res.status}: ${res.text}`)
  return res.json.choices[0].message.content as string
}

/** The error code in a tool's error text, or null when the text is a result. */
export function toolErrorCode(text: string): string | null {
  try {
    return JSON.parse(text)?.error?.code ?? null
  } catch {
    return null
  }
}

/** Polls `check` until it answers true (or a value), failing after `ms`. */
export async function eventually<T>(check: () => Promise<T> | T, ms: number, what: string): Promise<T> {
  const deadline = Date.now() + ms
  let last: unknown
  for (;;) {
    try {
      const value = await check()
      if (value) return value
    } catch (error) {
      last = error
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? `: ${last}` : ''}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/**
 * True while a process of that pid runs (signal 0 checks without signalling). A zombie — dead, waiting for a parent
 * (or an init that may never reap it) to collect its status — counts as gone.
 */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch (error: any) {
    return error.code === 'EPERM'
  }
  try {
    // /proc/PID/stat: "pid (comm) STATE …"; the comm may hold spaces and parentheses, the state follows the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z'
  } catch {
    // No /proc (not Linux: signal 0 is all there is), or the process ended between the two looks.
    return !existsSync('/proc/self')
  }
}

/** Every process below `pid` (children, their children, …), from /proc: pid → command line. */
export function descendants(pid: number): Map<number, string> {
  const parents = new Map<number, number>()
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      // "pid (comm) state ppid …": the comm may hold spaces and parentheses.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      parents.set(Number(entry), ppid)
    } catch {
      // The process ended while the list was read.
    }
  }
  const found = new Map<number, string>()
  const queue = [pid]
  while (queue.length > 0) {
    const parent = queue.shift()!
    for (const [child, ppid] of parents) {
      if (ppid !== parent || found.has(child)) continue
      let command = ''
      try {
        command = readFileSync(`/proc/${child}/cmdline`, 'utf8').split('\0').join(' ').trim()
      } catch {
        // Gone already.
      }
      found.set(child, command)
      queue.push(child)
    }
  }
  return found
}
