// An MCP stdio server as a child process in a process group of its own, so that stopping it stops what it started
// too: `npx some-server` is npm, a shell and node, and killing only npm leaves the server running. The SDK's
// StdioClientTransport signals its direct child alone; this one signals the group, and exits the group when the
// direct child dies (a server whose launcher died is a dead server).
import { spawn, type ChildProcess } from 'node:child_process'
import { ReadBuffer, serializeMessage } from '@modelcontextprotocol/sdk/shared/stdio.js'
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js'
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js'

export interface ChildParams {
  command: string
  args: string[]
  env: Record<string, string>
  cwd: string
}

/** How long a child gets after its stdin closes, then after SIGTERM, before the next step. */
const GRACE_MS = 2_000

/** Lines the child wrote on stderr (a partial line is held until its end, or the child's). */
export type StderrLine = (line: string) => void

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal)
  } catch {
    // ESRCH: the group has no process left, which is what stopping it wants.
  }
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => child.once('exit', () => resolve()))
}

function waitAtMost(work: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  return Promise.race([work, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]).finally(() => clearTimeout(timer))
}

export class ChildProcessTransport implements Transport {
  onclose?: () => void
  onerror?: (error: Error) => void
  onmessage?: (message: JSONRPCMessage) => void
  readonly #params: ChildParams
  readonly #onStderr: StderrLine
  readonly #buffer = new ReadBuffer()
  #child: ChildProcess | null = null
  #closed = false
  #stderrTail = ''
  /** How the child ended (`exit code 1`, `signal SIGKILL`), once it has. */
  exit: string | null = null

  constructor(params: ChildParams, onStderr: StderrLine) {
    this.#params = params
    this.#onStderr = onStderr
  }

  /** The child's pid (its process group's id), while it runs. */
  get pid(): number | null {
    return this.#child?.pid ?? null
  }

  start(): Promise<void> {
    if (this.#child) throw new Error('ChildProcessTransport already started')
    const { command, args, env, cwd } = this.#params
    const child = spawn(command, args, { env, cwd, stdio: ['pipe', 'pipe', 'pipe'], detached: true, windowsHide: true })
    this.#child = child
    return new Promise((resolve, reject) => {
      child.once('error', (error) => {
        // A spawn that failed (ENOENT) fires error instead of spawn.
        if (child.pid === undefined) reject(error)
        else this.onerror?.(error)
      })
      child.once('spawn', () => resolve())
      child.once('exit', (code, signal) => this.#exited(child, code, signal))
      child.stdin!.on('error', (error) => this.onerror?.(error))
      child.stdout!.on('data', (chunk: Buffer) => this.#read(chunk))
      child.stdout!.on('error', (error) => this.onerror?.(error))
      child.stderr!.setEncoding('utf8').on('data', (text: string) => this.#stderr(text))
    })
  }

  send(message: JSONRPCMessage): Promise<void> {
    const stdin = this.#child?.stdin
    if (!stdin || stdin.destroyed || this.exit !== null) return Promise.reject(new Error('the server process is not running'))
    return new Promise((resolve) => {
      if (stdin.write(serializeMessage(message))) resolve()
      else stdin.once('drain', resolve)
    })
  }

  /** Stops the server: stdin closed, then SIGTERM to its group, then SIGKILL; resolves when the child is gone. */
  async close(): Promise<void> {
    const child = this.#child
    this.#closed = true
    if (!child || child.pid === undefined) return this.#finish()
    const pid = child.pid
    if (this.exit === null) {
      child.stdin?.end()
      await waitAtMost(exited(child), GRACE_MS)
    }
    if (this.exit === null) {
      signalGroup(pid, 'SIGTERM')
      await waitAtMost(exited(child), GRACE_MS)
    }
    // Whatever is left of the group (the child, or what it started and did not stop).
    signalGroup(pid, 'SIGKILL')
    this.#finish()
  }

  /** The last resort when this process exits with the child still running: synchronous, no grace. */
  killNow(): void {
    const pid = this.#child?.pid
    if (pid !== undefined) signalGroup(pid, 'SIGKILL')
  }

  #read(chunk: Buffer): void {
    try {
      this.#buffer.append(chunk)
    } catch (error) {
      // A message past the buffer's limit (10 MB): the stream cannot be followed any more.
      this.onerror?.(error as Error)
      void this.close()
      return
    }
    for (;;) {
      let message: JSONRPCMessage | null
      try {
        message = this.#buffer.readMessage()
      } catch (error) {
        // A line that is not JSON-RPC (a server that logs to stdout): reported, and the next line is read.
        this.onerror?.(error as Error)
        continue
      }
      if (message === null) return
      this.onmessage?.(message)
    }
  }

  #stderr(text: string): void {
    const lines = (this.#stderrTail + text).split('\n')
    this.#stderrTail = lines.pop() ?? ''
    for (const line of lines) if (line.trim() !== '') this.#onStderr(line)
  }

  #exited(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    this.exit = signal !== null ? `signal ${signal}` : `exit code ${code}`
    if (this.#stderrTail.trim() !== '') this.#onStderr(this.#stderrTail)
    this.#stderrTail = ''
    // Anything the server started dies with it: nothing would ever talk to it again.
    if (!this.#closed && child.pid !== undefined) signalGroup(child.pid, 'SIGKILL')
    this.#finish()
  }

  #finish(): void {
    if (this.#child === null && this.#closed) return
    this.#child = null
    this.#buffer.clear()
    const onclose = this.onclose
    this.onclose = undefined
    onclose?.()
  }
}
