// Inspecting a package runs its code (its top level, its setup, its tools' examples), so it runs in a child
// process: an empty environment (no provider keys), Node's permission model (read the app, the package and
// Robutler's own install; write nowhere; no child processes, no workers), and a time limit. The verdict comes
// back over IPC; a child that crashes, hangs or is refused something it needs is a problem, never a throw.
import { fork } from 'node:child_process'
import { realpath } from 'node:fs/promises'
import { dirname, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Problem } from '@robutler/registry'
import { problem } from '../errors.js'
import type { CheckOptions, PackageCheck } from './check-package.js'

const CHILD = fileURLToPath(new URL('./inspect-child.js', import.meta.url))

/** Node 20 names the permission model `--experimental-permission`; later versions `--permission`. */
export const PERMISSION_FLAG = process.allowedNodeEnvironmentFlags.has('--permission') ? '--permission' : '--experimental-permission'

/**
 * Where Robutler itself is installed (the CLI, the kernel and their dependencies): the folder before the first
 * `node_modules` of the CLI's real path, or the workspace root beside it when the CLI is a workspace package.
 */
async function robutlerInstall(): Promise<string> {
  const here = await realpath(fileURLToPath(import.meta.url))
  const marker = `${sep}node_modules${sep}`
  const at = here.indexOf(marker)
  // A workspace package: cli/dist/marketplace/sandbox.js → the repo holding cli/ and node_modules/.
  return at >= 0 ? here.slice(0, at) : dirname(dirname(dirname(dirname(here))))
}

export interface SandboxOptions {
  /** The app folder (its node_modules hold the package and its dependencies). */
  appDir: string
  /** Milliseconds before the child is killed and the inspection fails. */
  timeoutMs: number
}

function failed(folder: string, detail: string): PackageCheck {
  const found: Problem = problem('RBT_ERR_MARKETPLACE_INSPECTION_FAILED', folder, detail)
  return { name: folder, version: '', problems: [found], warnings: [], tools: 0, toolNames: [], examples: 0 }
}

/**
 * checkPackage, run in a child process that can read only the app, the package and Robutler's own install.
 * @example
 * const check = await inspectInSandbox(dir, { kind: 'skill', kernelVersion, env: {}, strict: false }, { appDir: cwd, timeoutMs: 60_000 })
 */
export async function inspectInSandbox(folder: string, options: CheckOptions, sandbox: SandboxOptions): Promise<PackageCheck> {
  const readable = [...new Set(await Promise.all([sandbox.appDir, folder, await robutlerInstall()].map((path) => realpath(path).catch(() => path))))]
  const execArgv = [PERMISSION_FLAG, ...readable.map((path) => `--allow-fs-read=${path}`), '--no-warnings']
  // Nothing of the operator's environment: no keys, no npm token; PATH is not needed to import JavaScript.
  const child = fork(CHILD, [], { env: {}, execArgv, stdio: ['ignore', 'ignore', 'pipe', 'ipc'], serialization: 'advanced' })
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => {
    if (stderr.length < 4000) stderr += chunk.toString()
  })
  return new Promise<PackageCheck>((resolve) => {
    let settled = false
    const settle = (check: PackageCheck) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      if (child.exitCode === null) child.kill('SIGKILL')
      resolve(check)
    }
    const timer = setTimeout(() => settle(failed(folder, `it did not finish within ${sandbox.timeoutMs / 1000} s`)), sandbox.timeoutMs)
    child.on('message', (answer: { check?: PackageCheck; error?: string }) => {
      settle(answer.check ?? failed(folder, answer.error ?? 'the inspection answered nothing'))
    })
    child.on('error', (error) => settle(failed(folder, error.message)))
    child.on('exit', (code, signal) => {
      const last = stderr.trim().split('\n').slice(-3).join(' ').slice(0, 500)
      settle(failed(folder, `the inspecting process ended (${signal ?? `exit code ${code}`}) before answering${last ? `: ${last}` : ''}`))
    })
    // options.env is what the skill API may hand its setup (filtered again by its declared permissions); the
    // process itself has no environment.
    child.send({ folder, options })
  })
}
