// `robutler skills …` and `robutler plugins …`: parses the verb and its options and runs it, given the installed
// kernel's version and the config path (cli.ts), so the verbs can be run in process too.
import { parseArgs } from 'node:util'
import { SECTION_OF_KIND, type PackageKind } from '@robutler/registry'
import { runAdd } from './add.js'
import { runInfo } from './info.js'
import { runList } from './list.js'
import { runRemove } from './remove.js'
import { runNew } from './scaffold.js'
import { runSearch } from './search.js'
import { KEYWORD_OF_KIND, type MarketplaceContext } from './types.js'
import { runValidate } from './validate.js'

const EXIT_USAGE = 2

function usage(kind: PackageKind): string {
  const verb = `robutler ${SECTION_OF_KIND[kind]}`
  const lines = [
    `${verb} — find, add, remove and check ${SECTION_OF_KIND[kind]}: npm packages with the keyword ${KEYWORD_OF_KIND[kind]}`,
    '',
    'Usage:',
    `  ${verb} list [--json]                        installed and enabled ${SECTION_OF_KIND[kind]}, with kernel compatibility`,
    `  ${verb} search <words…> [--json]             search the npm registry npm is configured with`,
    `  ${verb} info <pkg>[@range] [--json]          versions, their kernel ranges, and the one add picks`,
    kind === 'skill'
      ? `  ${verb} add <pkg>[@range] [--agent NAME] [--yes] [--allow-scripts]\n` +
        `                                               install the newest version that runs here, grant the permissions it\n` +
        `                                               asks for (asked on a terminal; --yes grants them), enable it (and\n` +
        `                                               attach it to NAME); install scripts run only with --allow-scripts`
      : `  ${verb} add <pkg>[@range] [--allow-scripts]    install the newest version that runs here, and enable it (install scripts run only with --allow-scripts)`,
    `  ${verb} remove <pkg>                         disable it in the config, then npm uninstall it`,
  ]
  if (kind === 'skill') {
    lines.push(
      `  ${verb} new <name>                           scaffold a skill package in ./<name> (robutler-skill-<name>)`,
      `  ${verb} validate [dir] [--skill-config JSON] check a skill package before npm publish`,
    )
  } else {
    lines.push(`  ${verb} validate [dir]                       check a plugin package before npm publish`)
  }
  lines.push('', 'npm runs in the current folder with your npm config (.npmrc: registry, scopes, auth).', '')
  return lines.join('\n')
}

interface Parsed {
  verb: string | undefined
  operands: string[]
  agent?: string
  json: boolean
  skillConfig?: string
  help: boolean
  yes: boolean
  allowScripts: boolean
}

function parse(args: string[]): Parsed {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    strict: true,
    options: {
      agent: { type: 'string' },
      json: { type: 'boolean' },
      'skill-config': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
      yes: { type: 'boolean', short: 'y' },
      'allow-scripts': { type: 'boolean' },
    },
  })
  const parsed: Parsed = {
    verb: positionals[0],
    operands: positionals.slice(1),
    json: values.json ?? false,
    help: values.help ?? false,
    yes: values.yes ?? false,
    allowScripts: values['allow-scripts'] ?? false,
  }
  if (values.agent !== undefined) parsed.agent = values.agent
  if (values['skill-config'] !== undefined) parsed.skillConfig = values['skill-config']
  return parsed
}

/** Checks the operands and options a verb allows; answers why they are wrong, or null. */
function misuse(kind: PackageKind, parsed: Parsed): string | null {
  const { verb, operands } = parsed
  const counts: Record<string, [number, number]> = { list: [0, 0], search: [0, Infinity], info: [1, 1], add: [1, 1], remove: [1, 1], new: [1, 1], validate: [0, 1] }
  const allowed = counts[verb!]
  if (!allowed || (verb === 'new' && kind !== 'skill')) return `unknown verb '${verb}'`
  if (operands.length < allowed[0] || operands.length > allowed[1]) return `${verb} takes ${allowed[0] === allowed[1] ? allowed[0] : `${allowed[0]} to ${allowed[1]}`} argument(s), got ${operands.length}`
  if (parsed.agent !== undefined && (verb !== 'add' || kind !== 'skill')) return '--agent is only for skills add'
  if (parsed.yes && (verb !== 'add' || kind !== 'skill')) return '--yes is only for skills add'
  if (parsed.allowScripts && verb !== 'add') return '--allow-scripts is only for add'
  if (parsed.skillConfig !== undefined && (verb !== 'validate' || kind !== 'skill')) return '--skill-config is only for skills validate'
  if (parsed.json && !['list', 'search', 'info'].includes(verb!)) return `--json is only for list, search and info`
  return null
}

function parseSkillConfig(text: string | undefined): { config?: Record<string, unknown> } | { invalid: string } {
  if (text === undefined) return {}
  try {
    const config: unknown = JSON.parse(text)
    if (typeof config === 'object' && config !== null && !Array.isArray(config)) return { config: config as Record<string, unknown> }
  } catch {
    // Said below: the option's value is not a JSON object.
  }
  return { invalid: `--skill-config must be a JSON object, got ${text}` }
}

async function dispatch(kind: PackageKind, parsed: Parsed, context: MarketplaceContext): Promise<number> {
  const [first] = parsed.operands
  switch (parsed.verb) {
    case 'list':
      return runList(kind, context, parsed.json)
    case 'search':
      return runSearch(kind, parsed.operands, context, parsed.json)
    case 'info':
      return runInfo(kind, first!, context, parsed.json)
    case 'add':
      return runAdd(kind, first!, { agent: parsed.agent, yes: parsed.yes, allowScripts: parsed.allowScripts }, context)
    case 'remove':
      return runRemove(kind, first!, context)
    case 'new':
      return runNew(first!, context)
    default: {
      const skillConfig = parseSkillConfig(parsed.skillConfig)
      if ('invalid' in skillConfig) {
        context.stderr(`robutler: ${skillConfig.invalid}\n`)
        return EXIT_USAGE
      }
      return runValidate(kind, first, skillConfig.config, context)
    }
  }
}

/**
 * Runs one marketplace verb — `list`, `search`, `info`, `add`, `remove`, `new` (skills), `validate` — and resolves
 * to the exit code: 0 done, 1 refused or failed (the problems are on stderr, each with its RBT_ERR_* code),
 * 2 misused (unknown verb or option). Never rejects.
 *
 * @example
 * // what cli.ts does for `robutler skills add @acme/skill-weather --agent support`
 * process.exitCode = await runMarketplaceCommand('skill', ['add', '@acme/skill-weather', '--agent', 'support'], {
 *   kernelVersion: KERNEL_VERSION, kernelRange: '^1.0.0', cwd: process.cwd(), configPath, env: process.env,
 *   stdout: (text) => void process.stdout.write(text), stderr: (text) => void process.stderr.write(text),
 * })
 */
export async function runMarketplaceCommand(kind: PackageKind, args: string[], context: MarketplaceContext): Promise<number> {
  let parsed: Parsed
  try {
    parsed = parse(args)
  } catch (error) {
    context.stderr(`robutler: ${(error as Error).message}\n\n${usage(kind)}`)
    return EXIT_USAGE
  }
  if (parsed.help || parsed.verb === undefined || parsed.verb === 'help') {
    context.stdout(usage(kind))
    return 0
  }
  const wrong = misuse(kind, parsed)
  if (wrong) {
    context.stderr(`robutler: ${SECTION_OF_KIND[kind]}: ${wrong}\n\n${usage(kind)}`)
    return EXIT_USAGE
  }
  try {
    return await dispatch(kind, parsed, context)
  } catch (error) {
    context.stderr(`robutler: ${SECTION_OF_KIND[kind]} ${parsed.verb} failed unexpectedly: ${(error as Error)?.stack ?? String(error)}\n`)
    return 1
  }
}
