#!/usr/bin/env node
// The `robutler` command: start, doctor, the marketplace (skills, plugins), and the commands enabled plugins add.
// It drives the kernel installed beside it (its peer), through the kernel's public entry only.
import { existsSync } from 'node:fs'
import cluster from 'node:cluster'
import { resolve } from 'node:path'
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
import { formatReport } from '@robutler/registry'
import { pino, type Logger } from 'pino'
import { runPrimary } from './cluster.js'
import { runMarketplaceCommand } from './marketplace/command.js'

const HELP = `robutler ${KERNEL_VERSION} — serve AI agents over an OpenAI-compatible API

Usage:
  robutler start [--config FILE] [--host HOST] [--port PORT] [--workers N]
  robutler doctor [--config FILE]
  robutler skills|plugins list|search|add|remove|info|new|validate …
  robutler --help | --version

Commands:
  start    load the config, check and boot plugins and skills, serve the agents
  doctor   print every load-time problem of the config and exit non-zero if there is one; starts nothing
  skills   the marketplace: list, search QUERY, add PKG[@RANGE] [--agent NAME], remove PKG, info PKG,
           new NAME, validate [DIR]   (plugins: the same verbs for plugins)
  <other>  a command an enabled plugin provides (robutler keys … with @robutler/plugin-auth-keys)

Options:
  -c, --config FILE   config file (default: ./robutler.config.json, then ./robutler.config.mjs)
  -H, --host HOST     listen address (overrides server.host and ROBUTLER_HOST)
  -p, --port PORT     listen port (overrides server.port and ROBUTLER_PORT)
  -w, --workers N     serving processes (node:cluster; overrides server.workers and ROBUTLER_WORKERS; default 1)
  -h, --help          show this help
  -v, --version       show the kernel version

Environment: ROBUTLER_HOST, ROBUTLER_PORT, ROBUTLER_LOG_LEVEL, ROBUTLER_WORKERS override server.*; \${VAR} in the config reads VAR.
`

function findConfig(given: string | undefined, env: Environment): string {
  if (given) return resolve(given)
  if (env.ROBUTLER_CONFIG) return resolve(env.ROBUTLER_CONFIG)
  for (const name of DEFAULT_CONFIG_FILES) if (existsSync(name)) return resolve(name)
  return resolve(DEFAULT_CONFIG_FILES[0]!)
}

async function loadOptions(configPath: string, env: Environment): Promise<ServerOptions & { workers?: number }> {
  const { config, dir } = await loadConfigFile(configPath, env)
  return { ...optionsFromConfig(config, dir, env), workers: config.server?.workers }
}

function workerCount(flag: string | undefined, env: Environment, configured: number | undefined): number {
  const raw = flag ?? env.ROBUTLER_WORKERS
  if (raw === undefined || raw === '') return configured ?? 1
  const count = Number(raw)
  if (!Number.isInteger(count) || count < 1 || count > 256) throw new Error(`--workers (or ROBUTLER_WORKERS) must be 1 to 256, got '${raw}'`)
  return count
}

function fail(error: unknown): never {
  if (error instanceof StartupError) {
    process.stderr.write(`robutler: cannot start, ${error.problems.length} problem(s):\n\n${formatReport(error.problems)}\n`)
  } else if (isRobutlerError(error)) {
    process.stderr.write(`robutler: ${error.code}: ${error.message}\n`)
  } else {
    process.stderr.write(`robutler: ${(error as Error)?.stack ?? String(error)}\n`)
  }
  process.exit(1)
}

async function start(values: { config?: string; host?: string; port?: string; workers?: string }, env: Environment): Promise<void> {
  const options = await loadOptions(findConfig(values.config, env), env)
  const workers = workerCount(values.workers, env, options.workers)
  if (workers > 1 && cluster.isPrimary) {
    // Check once here rather than fork N workers that would each fail the same way, forever.
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
  if (values.port !== undefined) {
    const port = Number(values.port)
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be a port number, got '${values.port}'`)
    options.port = port
  }
  const server = await createServer(options)
  const address = await server.listen()
  server.app.log.info({ address, agents: (options.agents ?? []).map((a) => a.name) }, `Robutler ${KERNEL_VERSION} listening on ${address}`)
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

async function doctor(values: { config?: string }, env: Environment): Promise<void> {
  const options = await loadOptions(findConfig(values.config, env), env)
  const report = await checkStartup(options, env)
  const out = process.stdout
  out.write(`robutler ${report.kernelVersion}\n`)
  out.write(`enabled: ${report.enabled.map((p) => `${p.name}@${p.version} (${p.kind})`).join(', ') || 'none'}\n`)
  out.write(`agents: ${report.agents.join(', ') || 'none'}\n`)
  if (report.problems.length === 0) {
    out.write('no problems found\n')
    return
  }
  out.write(`\n${report.problems.length} problem(s):\n\n${formatReport(report.problems)}\n`)
  process.exitCode = 1
}

const BUILT_IN = new Set(['start', 'doctor', 'help'])
const MARKETPLACE: Record<string, 'skill' | 'plugin'> = { skills: 'skill', plugins: 'plugin' }

/** `robutler skills|plugins <verb> …`: the marketplace, run against the kernel installed beside this CLI. */
async function marketplace(kind: 'skill' | 'plugin', args: string[], env: Environment): Promise<void> {
  const { config, rest } = splitConfigFlag(args)
  process.exitCode = await runMarketplaceCommand(kind, rest, {
    kernelVersion: KERNEL_VERSION,
    kernelRange: `^${KERNEL_VERSION.split('.')[0]}.0.0`,
    cwd: process.cwd(),
    configPath: findConfig(config, env),
    env: env as NodeJS.ProcessEnv,
    stdout: (text) => void process.stdout.write(text),
    stderr: (text) => void process.stderr.write(text),
  })
}

/** Takes `--config FILE` / `-c FILE` / `--config=FILE` out of a plugin command's arguments. */
function splitConfigFlag(args: string[]): { config: string | undefined; rest: string[] } {
  const rest: string[] = []
  let config: string | undefined
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    if (arg === '--config' || arg === '-c') config = args[++i]
    else if (arg.startsWith('--config=')) config = arg.slice('--config='.length)
    else rest.push(arg)
  }
  return { config, rest }
}

/** `robutler <command> …` for a command an enabled plugin contributes (`robutler keys create`). */
async function pluginCommand(name: string, args: string[], env: Environment): Promise<void> {
  const { config, rest } = splitConfigFlag(args)
  const path = findConfig(config, env)
  const found = existsSync(path) ? await findPluginCommand(name, await loadOptions(path, env), env) : null
  if (!found) {
    const where = existsSync(path) ? `no enabled plugin in ${path} provides it` : `no config at ${path} to find plugin commands in`
    process.stderr.write(`robutler: unknown command '${name}': not built in, and ${where}\n\n${HELP}`)
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
    stdin: process.stdin,
    stdout: (text) => void process.stdout.write(text),
    stderr: (text) => void process.stderr.write(text),
  })
  process.exitCode = code ?? 0
}

async function main(argv: string[], env: Environment): Promise<void> {
  // The command is the first argument that is neither a flag nor the value of --config before it.
  let first = -1
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--config' || argv[i] === '-c') i++
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
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string', short: 'c' },
      host: { type: 'string', short: 'H' },
      port: { type: 'string', short: 'p' },
      workers: { type: 'string', short: 'w' },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'v' },
    },
  })
  const command = positionals[0]
  if (values.version) return void process.stdout.write(`${KERNEL_VERSION}\n`)
  if (values.help || command === undefined || command === 'help') return void process.stdout.write(HELP)
  if (command === 'start') return start(values, env)
  if (command === 'doctor') return doctor(values, env)
  process.stderr.write(`robutler: unknown command '${command}'\n\n${HELP}`)
  process.exitCode = 2
}

main(process.argv.slice(2), process.env).catch(fail)
