// Runs the user's own npm. Going through npm rather than fetching the registry ourselves is what makes the
// marketplace respect the user's npm setup: registry, scoped registries, auth tokens, proxies, cache, .npmrc files.
import { spawn } from 'node:child_process'

export interface NpmRun {
  /** npm's exit code (-1 when it could not be started). */
  code: number
  stdout: string
  stderr: string
}

export interface NpmOptions {
  cwd: string
  env: NodeJS.ProcessEnv
  /** Receives npm's output as it comes (install progress), besides collecting it. */
  onOutput?: (text: string) => void
}

/**
 * Runs `npm …args` to its end. Never rejects: a missing npm is exit code -1 with the reason on stderr.
 *
 * @example
 * const run = await runNpm(['view', 'robutler-skill-weather@*', '--json'], { cwd, env })
 */
export function runNpm(args: readonly string[], options: NpmOptions): Promise<NpmRun> {
  return new Promise((resolve) => {
    let stdout = ''
    let stderr = ''
    // npm is a .cmd script on Windows, which only a shell can start; quoted there so `>=1.0.0` is not a redirect.
    const windows = process.platform === 'win32'
    const argv = windows ? args.map((arg) => `"${arg.replace(/"/g, '""')}"`) : [...args]
    const child = spawn('npm', argv, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'], shell: windows })
    child.stdout.setEncoding('utf8').on('data', (text: string) => {
      stdout += text
      options.onOutput?.(text)
    })
    child.stderr.setEncoding('utf8').on('data', (text: string) => {
      stderr += text
      options.onOutput?.(text)
    })
    child.on('error', (error) => resolve({ code: -1, stdout, stderr: `${stderr}cannot run npm: ${error.message}` }))
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }))
  })
}

/** npm's `--json` output: undefined for no output (a `view` that matched nothing). */
export function parseNpmJson(stdout: string): unknown {
  const text = stdout.trim()
  if (text === '') return undefined
  return JSON.parse(text)
}

/** The error code npm reported in `--json` mode (`E404`), if any. */
export function npmErrorCode(run: NpmRun): string | undefined {
  try {
    const parsed = parseNpmJson(run.stdout) as { error?: { code?: unknown } } | undefined
    if (typeof parsed?.error?.code === 'string') return parsed.error.code
  } catch {
    // Not JSON: npm failed before it could print its JSON error; the text says why.
  }
  return /npm error code (\S+)/.exec(run.stderr)?.[1]
}

/** One line saying why npm failed: its JSON error summary, else its first `npm error` lines. */
export function npmErrorSummary(run: NpmRun): string {
  try {
    const parsed = parseNpmJson(run.stdout) as { error?: { summary?: unknown } } | undefined
    if (typeof parsed?.error?.summary === 'string' && parsed.error.summary !== '') return parsed.error.summary
  } catch {
    // Not JSON: fall back to the text output below.
  }
  const lines = run.stderr
    .split('\n')
    .map((line) => line.replace(/^npm (?:error|ERR!)\s*/, '').trim())
    .filter((line) => line !== '' && !/^code \S+$/.test(line) && !line.startsWith('A complete log of this run'))
  return lines.slice(0, 3).join(' ') || `npm exited with code ${run.code}`
}
