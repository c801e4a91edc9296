#!/usr/bin/env node
// The `robutler` command: start, doctor, init, the marketplace (skills, plugins), and the commands enabled plugins
// add. It drives the kernel installed beside it (its peer), through the kernel's public entry only.
// Exit codes: 0 done, 1 refused or failed (each problem printed with its RBT_ERR_* code), 2 misused.
import { existsSync } from 'node:fs'
import cluster from 'node:cluster'
import { dirname, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import {
  DEFAULT_CONFIG_FILES,
  KERNEL_VERSION,
  StartupError,
  checkStartup,
  createLogger,
  createServer,
  findPluginCommand,
  flushLogger,
  isRobutlerError,
  loadConfigFile,
  optionsFromConfig,
  resolveSettings,
  type Environment,
  type ServerOptions,
} from '@robutler/kernel'
import { describePermissions, formatReport, type Problem } from '@robutler/registry'
import { pino, type Logger } from 'pino'
import { findAppDir } from './app-dir.js'
import { reportBootFailure, runPrimary } from './cluster.js'
import { problem } from './errors.js'
import { runInit } from './init.js'
import { runMarketplaceCommand } from './marketplace/command.js'

const HELP = `robutler ${KERNEL_VERSION} — serve AI agents over an OpenAI-compatible API

Usage:
  robutler start [--config FILE] [--app-dir DIR] [--host HOST] [--port PORT] [--workers N]
  robutler doctor [--config FILE] [--app-dir DIR]
  robutler init [--config FILE]
  robutler skills|plugins list|search|add|remove|info|new|validate …
  robutler --help | --version

Commands:
  start    load the config, check and boot plugins and skills, serve the agents
  doctor   everything start does short of listening (plugins boot, agents are built, then all closes); prints
           every problem at once and exits 1 if there is one
  init     write a commented starter config (robutler.config.json) and say what to install for it
  skills   the marketplace: list, search QUERY, add PKG[@RANGE] [--agent NAME], remove PKG, info PKG,
           new NAME, validate [DIR]   (plugins: the same verbs for plugins)
  <other>  a command an enabled plugin provides: robutler keys … (@robutler/plugin-auth-keys),
           robutler agents … (@robutler/plugin-agents-postgres)

Options:
  -c, --config FILE   config file (default: ./robutler.config.json, then ./robutler.config.mjs)
      --app-dir DIR   the app whose node_modules hold the plugins and skills (default: the working directory's
                      package, wherever the config is)
  -H, --host HOST     listen address (overrides server.host and ROBUTLER_HOST)
  -p, --port PORT     listen port (overrides server.port and ROBUTLER_PORT)
  -w, --workers N     serving processes (node:cluster; overrides server.workers and ROBUTLER_WORKERS; default 1)
  -h, --help          show this help
  -v, --version       show the kernel version

Environment: ROBUTLER_HOST, ROBUTLER_PORT, ROBUTLER_LOG_LEVEL, ROBUTLER_WORKERS override server.*; \${VAR} in the config reads VAR.
Exit codes: 0 done, 1 refused or failed, 2 misused.
`

/** Commands of first-party plugins: an unknown command names the plugin that would bring it. */
const PLUGIN_COMMANDS: Readonly<Record<string, string>> = {
  keys: '@robutler/plugin-auth-keys',
  agents: '@robutler/plugin-agents-postgres',
}

/** A misused command: printed with its code and the usage, exit code 2. */
class UsageError extends Error {
  constructor(readonly problem: Problem) {
    super(problem.message)
  }
}

function usage(command: string, detail: string): UsageError {
  return new UsageError(problem('RBT_ERR_CLI_USAGE', command, detail))
}

function findConfig(given: string | undefined, env: Environment): string {
  if (given) return resolve(given)
  if (env.ROBUTLER_CONFIG) return resolve(env.ROBUTLER_CONFIG)
  for (const name of DEFAULT_CONFIG_FILES) if (existsSync(name)) return resolve(name)
  return resolve(DEFAULT_CONFIG_FILES[0]!)
}

interface Located {
  configPath: string
  appDir: string
}

function locate(values: { config?: string; 'app-dir'?: string }, env: Environment): Located {
  const configPath = findConfig(values.config, env)
  return { configPath, appDir: findAppDir(values['app-dir'], process.cwd(), dirname(configPath)) }
}

async function loadOptions({ configPath, appDir }: Located, env: Environment): Promise<ServerOptions & { workers?: number }> {
  const { config, dir, source } = await loadConfigFile(configPath, env)
  return { ...optionsFromConfig(config, dir, env, { appDir, source }), workers: config.server?.workers }
}

function workerCount(flag: string | undefined, env: Environment, configured: number | undefined): number {
  const raw = flag ?? env.ROBUTLER_WORKERS
  if (raw === undefined || raw === '') return configured ?? 1
  const count = Number(raw)
  if (!Number.isInteger(count) || count < 1 || count > 256) {
    throw usage('start', `${flag === undefined ? 'ROBUTLER_WORKERS' : '--workers'} must be a whole number from 1 to 256, got '${raw}'`)
  }
  return count
}

function portNumber(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined
  const port = Number(raw)
  if (raw.trim() === '' || !Number.isInteger(port) || port < 0 || port > 65535) throw usage('start', `--port must be a port number from 0 to 65535, got '${raw}'`)
  return port
}

/** What to do about a coded error the kernel throws alone (not a report). */
const HINTS: Readonly<Record<string, string>> = {
  RBT_ERR_CONFIG_NOT_FOUND: 'npx robutler init writes a starter config; or pass --config FILE',
}

/** Any failure as the text the operator reads: a report of problems, one coded line, or (a bug) the stack. */
export function describeFailure(error: unknown, refused = 'cannot start'): string {
  if (error instanceof StartupError) return `robutler: ${refused}, ${error.problems.length} problem(s):\n\n${formatReport(error.problems)}\n`
  if (error instanceof UsageError) return `${formatReport([error.problem])}\n`
  if (isRobutlerError(error)) {
    const hint = HINTS[error.code]
    return `${formatReport([{ code: error.code, message: error.message, ...(hint === undefined ? {} : { hint }) }])}\n`
  }
  return `robutler: unexpected error (a bug: please report it): ${(error as Error)?.stack ?? String(error)}\n`
}

function fail(error: unknown): void {
  const code = error instanceof UsageError ? 2 : 1
  // A serving process under --workers tells its primary, which prints the report once for all of them.
  if (reportBootFailure(describeFailure(error), code)) return
  process.stderr.write(describeFailure(error))
  if (error instanceof UsageError) process.stderr.write(`\n${HELP}`)
  process.exit(code)
}

/** The startup line: where it listens, the base URL every agent shares, and each agent's own URL. */
function logListening(log: Logger, address: string, options: ServerOptions, env: Environment): void {
  const base = `${address}${resolveSettings(options, env).urlPrefix}`
  const agents = Object.fromEntries((options.agents ?? []).map((agent) => [agent.name, `${base}/${agent.name}`]))
  const each = Object.entries(agents).map(([name, url]) => `${name} ${url}`).join(', ')
  log.info({ address, baseUrl: base, agents }, `Robutler ${KERNEL_VERSION} listening on ${address} — base URL ${base} (OpenAI clients: baseURL ${base}, model "<agent>")${each === '' ? '' : `; agents: ${each}`}`)
}

/** A coded failure of booting or listening, as the same "cannot start" report doctor and a bad config print. */
async function asReport<T>(work: Promise<T>): Promise<T> {
  try {
    return await work
  } catch (error) {
    if (error instanceof StartupError || !isRobutlerError(error)) throw error
    throw new StartupError([{ code: error.code, message: error.message }])
  }
}

async function start(values: { config?: string; 'app-dir'?: string; host?: string; port?: string; workers?: string }, env: Environment): Promise<void> {
  const port = portNumber(values.port)
  const options = await loadOptions(locate(values, env), env)
  const workers = workerCount(values.workers, env, options.workers)
  if (workers > 1 && cluster.isPrimary) {
    // Check once here rather than fork N workers that would each fail the same way; what only booting finds
    // (a port in use, a database that refuses) the workers report, and the primary stops.
    const report = await checkStartup(options, env)
    if (report.problems.length > 0) throw new StartupError(report.problems)
    // The primary logs little and must not lose a line when it exits: written synchronously.
    const settings = resolveSettings(options, env)
    const log = createLogger({ level: settings.logLevel, destination: pino.destination({ dest: 1, sync: true }) })
    const code = await runPrimary({ workers, log, stopTimeoutSeconds: settings.drainTimeoutMs / 1000 + 10 })
    flushLogger(log)
    process.exit(code)
  }
  if (values.host) options.host = values.host
  if (port !== undefined) options.port = port
  const server = await asReport(createServer(options))
  const address = await asReport(server.listen())
  logListening(server.app.log as Logger, address, options, env)
  flushLogger(server.app.log as Logger)

  let signals = 0
  const shutdown = (signal: NodeJS.Signals) => {
    signals++
    if (signals > 1) {
      process.stderr.write(`robutler: second ${signal}, exiting at once\n`)
      process.exit(1)
    }
    server.app.log.info({ signal }, 'draining: finishing in-flight requests')
    server.close().then(
      () => process.exit(0),
      (error) => {
        server.app.log.error({ err: error }, 'shutdown failed')
        process.exit(1)
      },
    )
  }
  process.on('SIGTERM', shutdown)
  process.on('SIGINT', shutdown)
}

async function doctor(values: { config?: string; 'app-dir'?: string }, env: Environment): Promise<void> {
  const out = process.stdout
  let report
  try {
    report = await checkStartup(await loadOptions(locate(values, env), env), env, { boot: true })
  } catch (error) {
    if (!(error instanceof StartupError)) throw error
    // The config file itself has problems: each is in the report; nothing further could be checked.
    out.write(`robutler ${KERNEL_VERSION}\n\n${error.problems.length} problem(s):\n\n${formatReport(error.problems)}\n`)
    process.exitCode = 1
    return
  }
  out.write(`robutler ${report.kernelVersion}\n`)
  out.write(`enabled: ${report.enabled.map((p) => `${p.name}@${p.version} (${p.kind})`).join(', ') || 'none'}\n`)
  out.write(`agents: ${report.agents.join(', ') || 'none'}\n`)
  const skills = report.skills.map((skill) => `${skill.name} (${skill.isolated ? 'isolated' : 'in process'}; permissions: ${describePermissions(skill.permissions)})`)
  if (skills.length > 0) out.write(`skills: ${skills.join(', ')}\n`)
  if (report.problems.length === 0) {
    out.write(`no problems found${report.booted ? ' (plugins booted and agents built, then closed)' : ''}\n`)
    return
  }
  out.write(`\n${report.problems.length} problem(s):\n\n${formatReport(report.problems)}\n`)
  process.exitCode = 1
}

const BUILT_IN = new Set(['start', 'doctor', 'init', 'help'])
const MARKETPLACE: Record<string, 'skill' | 'plugin'> = { skills: 'skill', plugins: 'plugin' }

/** `robutler skills|plugins <verb> …`: the marketplace, run against the kernel installed beside this CLI. */
async function marketplace(kind: 'skill' | 'plugin', args: string[], env: Environment): Promise<void> {
  const { config, rest } = splitFlag(args, 'config', 'c')
  process.exitCode = await runMarketplaceCommand(kind, rest, {
    kernelVersion: KERNEL_VERSION,
    kernelRange: `^${KERNEL_VERSION.split('.')[0]}.0.0`,
    cwd: process.cwd(),
    configPath: findConfig(config, env),
    env: env as NodeJS.ProcessEnv,
    ...(process.stdin.isTTY && process.stderr.isTTY ? { confirm: askOnTerminal } : {}),
    stdout: (text) => void process.stdout.write(text),
    stderr: (text) => void process.stderr.write(text),
  })
}

/** A yes/no question on the terminal (stderr, so stdout stays the command's result); only `y`/`yes` is yes. */
async function askOnTerminal(question: string): Promise<boolean> {
  const { createInterface } = await import('node:readline/promises')
  const terminal = createInterface({ input: process.stdin, output: process.stderr })
  try {
    return /^y(es)?$/i.test((await terminal.question(`${question} [y/N] `)).trim())
  } finally {
    terminal.close()
  }
}

/** Takes `--NAME VALUE` / `-S VALUE` / `--NAME=VALUE` out of a plugin command's arguments. */
function splitFlag(args: string[], name: string, short?: string): { config: string | undefined; rest: string[] } {
  const rest: string[] = []
  let value: string | undefined
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    if (arg === `--${name}` || (short !== undefined && arg === `-${short}`)) value = args[++i]
    else if (arg.startsWith(`--${name}=`)) value = arg.slice(`--${name}=`.length)
    else rest.push(arg)
  }
  return { config: value, rest }
}

/** `robutler <command> …` for a command an enabled plugin contributes (`robutler keys create`). */
async function pluginCommand(name: string, args: string[], env: Environment): Promise<void> {
  const { config, rest: afterConfig } = splitFlag(args, 'config', 'c')
  const { config: appDirFlag, rest } = splitFlag(afterConfig, 'app-dir')
  const where = locate({ config, 'app-dir': appDirFlag }, env)
  const found = existsSync(where.configPath) ? await findPluginCommand(name, await loadOptions(where, env), env) : null
  if (!found) {
    const why = existsSync(where.configPath) ? `not built in, and no enabled plugin in ${where.configPath} provides it` : `not built in, and there is no config at ${where.configPath} to find plugin commands in`
    process.stderr.write(`${formatReport([problem('RBT_ERR_CLI_UNKNOWN_COMMAND', name, why, PLUGIN_COMMANDS[name])])}\n\n${HELP}`)
    process.exitCode = 2
    return
  }
  if (found.problems.length > 0) {
    process.stderr.write(`robutler: warning: the config has ${found.problems.length} load-time problem(s); run 'robutler doctor'\n`)
  }
  const code = await found.command.run(rest, {
    config: found.config,
    env,
    baseDir: found.baseDir,
    checkAgent: found.checkAgent,
    stdin: process.stdin,
    stdout: (text) => void process.stdout.write(text),
    stderr: (text) => void process.stderr.write(text),
  })
  process.exitCode = code ?? 0
}

function parseCommandLine(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        config: { type: 'string', short: 'c' },
        'app-dir': { type: 'string' },
        host: { type: 'string', short: 'H' },
        port: { type: 'string', short: 'p' },
        workers: { type: 'string', short: 'w' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
      },
    })
  } catch (error) {
    // node:util's message names the option: "Unknown option '--prot'".
    throw usage('robutler', (error as Error).message.split('. ')[0]!.replace(/\.$/, ''))
  }
}

async function main(argv: string[], env: Environment): Promise<void> {
  // The command is the first argument that is neither a flag nor the value of a flag before it.
  let first = -1
  for (let i = 0; i < argv.length; i++) {
    if (['--config', '-c', '--app-dir'].includes(argv[i]!)) i++
    else if (!argv[i]!.startsWith('-')) {
      first = i
      break
    }
  }
  const named = first >= 0 ? argv[first]! : undefined
  if (named !== undefined && MARKETPLACE[named]) {
    return marketplace(MARKETPLACE[named]!, [...argv.slice(0, first), ...argv.slice(first + 1)], env)
  }
  if (named !== undefined && !BUILT_IN.has(named)) {
    return pluginCommand(named, [...argv.slice(0, first), ...argv.slice(first + 1)], env)
  }
  const { values, positionals } = parseCommandLine(argv)
  const command = positionals[0]
  if (values.version) return void process.stdout.write(`${KERNEL_VERSION}\n`)
  if (values.help || command === undefined || command === 'help') return void process.stdout.write(HELP)
  if (positionals.length > 1) throw usage(command, `unexpected argument '${positionals[1]}'`)
  if (command !== 'start' && (values.host !== undefined || values.port !== undefined || values.workers !== undefined)) {
    throw usage(command, '--host, --port and --workers are options of start')
  }
  if (command === 'start') return start(values, env)
  if (command === 'doctor') return doctor(values, env)
  const where = locate(values, env)
  process.exitCode = await runInit(where.configPath, where.appDir, (text) => void process.stdout.write(text), (text) => void process.stderr.write(text))
}

main(process.argv.slice(2), process.env).catch(fail)
