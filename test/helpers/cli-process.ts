// Runs the real `robutler` bin (cli/dist/cli.js) as a child process: one-shot commands, or a server started
// with `start` whose address is read from its "listening on" log line; and ES module scripts in a child node.
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { REPO_ROOT } from './kernel-app.js'

export const CLI = join(REPO_ROOT, 'cli/dist/cli.js')

/** process.env without the variables that would change what the CLI does (ROBUTLER_*, PROMETHEUS_ENABLED), plus `extra`. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('ROBUTLER_') && key !== 'PROMETHEUS_ENABLED') env[key] = value
  }
  return { ...env, ...extra }
}

export interface CliOptions {
  env?: NodeJS.ProcessEnv
  /** Default: the system temp folder, so nothing is found relative to the working directory by accident. */
  cwd?: string
  timeoutMs?: number
}

export interface CliResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

/**
 * Runs an ES module script (source text) in a child `node` from the repo root, so it imports the workspace
 * packages (`@robutler/kernel`, …); resolves with its stdout, rejects when it fails or outlives 20 s.
 */
export async function runModuleScript(script: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { cwd: REPO_ROOT, env, timeout: 20_000 })
  return stdout
}

/** Stops a child by its pid when it is still running. */
export function killIfAlive(child: ChildProcess | undefined): void {
  if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
}

/**
 * Runs `command argv` to its end with stdout and stderr collected; one that outlives `timeoutMs` (20 s) is killed
 * and fails the test, naming itself as `name`.
 */
export function runProcess(command: string, argv: string[], options: CliOptions & { name: string }): Promise<CliResult> {
  const child = spawn(command, argv, { cwd: options.cwd ?? tmpdir(), env: options.env ?? cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text))
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text))
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      killIfAlive(child)
      reject(new Error(`${options.name} still running after ${options.timeoutMs ?? 20_000} ms\n${stdout}\n${stderr}`))
    }, options.timeoutMs ?? 20_000)
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr })
    })
  })
}

/** Runs one `robutler` command to its end (runProcess). */
export function runCli(args: string[], options: CliOptions = {}): Promise<CliResult> {
  return runProcess(process.execPath, [CLI, ...args], { ...options, name: `robutler ${args.join(' ')}` })
}

export interface RunningServer {
  child: ChildProcess
  /** `http://127.0.0.1:PORT`, from the log line. */
  address: string
  /** Resolves when the process has exited (and its output is complete). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>
  stdout(): string
  stderr(): string
  /** stdout parsed as JSON log lines (non-JSON lines skipped). */
  logLines(): Array<Record<string, any>>
}

const LISTENING = /listening on (http:\/\/[^\s"]+)/

function jsonLines(text: string): Array<Record<string, any>> {
  return text.split('\n').flatMap((line) => {
    try {
      const parsed = JSON.parse(line)
      return parsed !== null && typeof parsed === 'object' ? [parsed] : []
    } catch {
      // Not a log line (a partial line at the end of the buffer): skip it.
      return []
    }
  })
}

/** `robutler start …`; resolves once its JSON log says where it listens. */
export function startServer(args: string[], options: CliOptions = {}): Promise<RunningServer> {
  const child = spawn(process.execPath, [CLI, 'start', ...args], { cwd: options.cwd ?? tmpdir(), env: options.env ?? cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout!.setEncoding('utf8').on('data', (text: string) => (stdout += text))
  child.stderr!.setEncoding('utf8').on('data', (text: string) => (stderr += text))
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal, at: Date.now() }))
  })
  const timeoutMs = options.timeoutMs ?? 20_000
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      killIfAlive(child)
      reject(new Error(`robutler start did not log its address within ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`))
    }, timeoutMs)
    const onData = () => {
      const line = jsonLines(stdout).find((entry) => typeof entry.msg === 'string' && LISTENING.test(entry.msg))
      if (!line) return
      clearTimeout(timer)
      child.stdout!.off('data', onData)
      resolve({
        child,
        address: LISTENING.exec(line.msg)![1]!,
        exited,
        stdout: () => stdout,
        stderr: () => stderr,
        logLines: () => jsonLines(stdout),
      })
    }
    child.stdout!.on('data', onData)
    child.on('error', reject)
    void exited.then(({ code, signal }) => {
      clearTimeout(timer)
      reject(new Error(`robutler start exited (code ${code}, signal ${signal}) before listening\nstdout: ${stdout}\nstderr: ${stderr}`))
    })
  })
}
