// Every problem the CLI reports (the marketplace verbs and `skills validate`), in one place: code, what it means,
// and how its message and hint read. The load-time codes a check shares with startup are the registry's.
import { defineProblems, type PackageKind } from '@robutler/registry'
import { TOOL_NAME } from '@robutler/kernel'

const DEFINITIONS = {
  // ---- the robutler command itself
  RBT_ERR_CLI_USAGE: {
    description: 'The command was misused: an unknown option, a value out of range (`--port 99999`, `--workers 0`), a missing argument. Exit code 2.',
    message: (command: string, detail: string) => `robutler ${command}: ${detail}`,
    hint: () => 'robutler --help shows the usage',
  },
  RBT_ERR_CLI_UNKNOWN_COMMAND: {
    description: 'The command is not built in and no enabled plugin provides it (`keys` needs @robutler/plugin-auth-keys enabled). Exit code 2.',
    message: (command: string, why: string, _plugin?: string) => `unknown command '${command}': ${why}`,
    hint: (_command: string, _why: string, plugin?: string) =>
      plugin === undefined
        ? 'robutler --help lists the built-in commands'
        : `it comes with ${plugin}: npm install ${plugin}, enable it in the config's \`plugins\` section, and run robutler doctor`,
  },
  RBT_ERR_CLI_CONFIG_EXISTS: {
    description: '`robutler init` would overwrite a config file that exists.',
    message: (path: string) => `${path} exists already; robutler init writes a new config only`,
    hint: () => 'edit it, remove it first, or pass --config with another path',
  },
  RBT_ERR_CLI_WORKERS_FAILED: {
    description: '`robutler start --workers N`: the serving processes die before they listen (a port in use, a database that refuses), so the primary stops instead of replacing them forever. Exit code 1.',
    message: (detail: string) => `the workers cannot start: ${detail}`,
    hint: () => 'the report above says why; robutler doctor checks the config without serving',
  },
  // ---- marketplace verbs (`robutler skills …`, `robutler plugins …`)
  RBT_ERR_MARKETPLACE_NPM_FAILED: {
    description: 'An npm command the marketplace runs (view, search, uninstall) failed: registry unreachable, auth, or npm missing.',
    message: (pkg: string, command: string, detail: string) => `npm ${command} failed for ${pkg}: ${detail}`,
    hint: () => 'check the registry npm uses (npm config get registry), the network, and your login (npm whoami)',
  },
  RBT_ERR_MARKETPLACE_PACKAGE_NOT_FOUND: {
    description: 'The npm registry has no such package, or no version of it matches the range asked for.',
    message: (pkg: string, range: string | undefined, versions: readonly string[]) =>
      range === undefined
        ? `${pkg} is not in the npm registry`
        : `no version of ${pkg} matches ${range}${versions.length > 0 ? ` (published: ${versions.join(', ')})` : ''}`,
    hint: (pkg: string, range: string | undefined) =>
      range === undefined ? `check the name (npm view ${pkg}), or the registry npm uses (npm config get registry)` : `robutler skills info ${pkg} lists its versions`,
  },
  RBT_ERR_MARKETPLACE_NO_COMPATIBLE_VERSION: {
    description: "No published version (in the range asked for) has a robutler.kernel range that accepts the installed kernel.",
    message: (pkg: string, range: string | undefined, reasons: readonly string[], kernelVersion: string, _fits?: string, _verb?: string) =>
      `no version of ${pkg}${range === undefined ? '' : ` in range ${range}`} runs on this kernel: ${reasons.join('; ')}; the installed kernel is ${kernelVersion}`,
    hint: (pkg: string, _range: string | undefined, _reasons: readonly string[], kernelVersion: string, fits?: string, verb?: string) =>
      fits !== undefined
        ? `${pkg}@${fits} runs on kernel ${kernelVersion}: robutler ${verb ?? 'skills'} add ${pkg}@${fits}`
        : `ask ${pkg}'s authors for a release whose robutler.kernel accepts ${kernelVersion}, or use a kernel its ranges accept`,
  },
  RBT_ERR_MARKETPLACE_WRONG_KIND: {
    description: '`skills` was asked to handle a plugin, or `plugins` a skill.',
    message: (pkg: string, kind: string, expected: PackageKind, _verb?: string) => `${pkg} is a ${kind}, not a ${expected}`,
    hint: (pkg: string, kind: string, _expected: PackageKind, verb?: string) =>
      kind === 'plugin' || kind === 'skill' ? `use robutler ${kind}s ${verb ?? '…'} ${pkg}` : `${pkg} is not a Robutler package of either kind`,
  },
  RBT_ERR_MARKETPLACE_INSTALL_FAILED: {
    description: '`npm install` of the chosen version failed; package.json and package-lock.json are left as they were.',
    message: (pkg: string, version: string, detail: string) => `npm install ${pkg}@${version} failed: ${detail}`,
    hint: () => "npm's output above says why; nothing was enabled",
  },
  RBT_ERR_MARKETPLACE_PERMISSIONS_NOT_GRANTED: {
    description: '`skills add` of a skill that asks for permissions, which were not granted: refused at the prompt, or no terminal to ask on and no `--yes`.',
    message: (pkg: string, version: string, permissions: string, asked: boolean) =>
      `${pkg}@${version} asks for ${permissions}, and ${asked ? 'they were not granted' : 'there is no terminal to ask on'}: nothing was installed`,
    hint: (pkg: string) => `review what ${pkg} asks for (docs/security.md), then run the command on a terminal, or add --yes to grant it`,
  },
  RBT_ERR_MARKETPLACE_INSPECTION_FAILED: {
    description:
      'The child process that inspects a package (empty environment, Node permission model, time limit) crashed, ran out of time, or was refused something: the package does something at import or in setup that an inspection does not allow.',
    message: (pkg: string, detail: string) => `inspecting ${pkg} failed: ${detail}`,
    hint: () => 'a package must load and set up without secrets, writes, child processes or workers; see docs/security.md',
  },
  RBT_ERR_MARKETPLACE_ROLLED_BACK: {
    description: 'A package installed but failed its checks (manifest, default export, worker module, tool schemas), so the install was undone.',
    message: (pkg: string, version: string) =>
      `${pkg}@${version} installed but fails the checks above, so the install was rolled back (package.json and package-lock.json restored)`,
    hint: (pkg: string) => `nothing was enabled; report the problems above to ${pkg}'s authors`,
  },
  RBT_ERR_MARKETPLACE_ROLLBACK_FAILED: {
    description: 'Undoing a failed install did not finish; the message says what is left.',
    message: (pkg: string, detail: string) => `rolling back ${pkg} failed: ${detail}`,
    hint: (pkg: string) => `run npm uninstall ${pkg}, and restore package.json and package-lock.json from version control`,
  },
  RBT_ERR_MARKETPLACE_AGENT_NOT_FOUND: {
    description: '`--agent NAME` names no agent of the config; nothing was installed.',
    message: (pkg: string, agent: string, configPath: string, agents: readonly string[]) =>
      `cannot attach ${pkg} to agent '${agent}': ${configPath} has no such agent (agents: ${agents.join(', ') || 'none'})`,
    hint: () => "pass the name of an agent in the config's `agents` list",
  },
  RBT_ERR_MARKETPLACE_CONFIG_UNEDITABLE: {
    description: 'The config file cannot be edited (not JSON, a .mjs file, or not an object); checked before anything is installed.',
    message: (pkg: string, configPath: string, detail: string, _section: string) => `cannot edit ${configPath} for ${pkg}: ${detail}`,
    hint: (pkg: string, _configPath: string, _detail: string, section: string) =>
      `fix the file, or edit "${pkg}" in its \`${section}\` section by hand`,
  },
  RBT_ERR_MARKETPLACE_TOOL_CLASH: {
    description: '`skills add --agent NAME`: a tool of the new skill has the name of a tool another skill of that agent defines, so the agent would not start (a warning: the skill is added).',
    message: (pkg: string, tools: readonly string[], other: string, agent: string) =>
      `${pkg} and ${other}, both attached to agent '${agent}', define the tool(s) ${tools.map((tool) => `'${tool}'`).join(', ')}: the agent would not start`,
    hint: (pkg: string, _tools: readonly string[], other: string, agent: string) =>
      `attach only one of them to ${agent} (robutler skills remove ${pkg}, or take ${other} out of the agent's \`skills\` map)`,
  },
  RBT_ERR_MARKETPLACE_NOT_INSTALLED: {
    description: '`remove` names a package that is neither installed nor named in the config.',
    message: (pkg: string, dir: string, configPath: string, _verb?: string) => `${pkg} is not installed in ${dir} and not named in ${configPath}`,
    hint: (_pkg: string, _dir: string, _configPath: string, verb?: string) => `robutler ${verb ?? 'skills'} list shows what is installed and enabled`,
  },
  RBT_ERR_MARKETPLACE_NAME_INVALID: {
    description: 'A package name (or name@range) given to a marketplace verb is not a valid npm name or semver range.',
    message: (pkg: string, detail: string) => `${JSON.stringify(pkg)} is not a valid package: ${detail}`,
    hint: () => 'npm names are lower case, as weather, robutler-skill-weather or @acme/skill-weather; a range follows @ (x@^1.2.0)',
  },
  RBT_ERR_MARKETPLACE_FOLDER_EXISTS: {
    description: '`skills new` would write into a folder that already has files.',
    message: (pkg: string, dir: string) => `cannot scaffold ${pkg}: ${dir} already exists and is not empty`,
    hint: () => 'pick another name, or remove the folder',
  },
  RBT_ERR_MARKETPLACE_NO_PACKAGE_JSON: {
    description: 'The folder has no package.json: `add`/`remove` need the app folder, `validate` a package folder.',
    message: (pkg: string, dir: string, _forApp?: boolean) => `${dir} has no package.json${pkg === dir ? '' : ` (for ${pkg})`}`,
    hint: (_pkg: string, _dir: string, forApp?: boolean) =>
      forApp ? "run robutler in your app's folder (npm init -y makes a package.json)" : 'pass the folder of the package to validate',
  },
  // ---- `skills validate`: what a skill's author must fix before publishing
  RBT_ERR_VALIDATE_KEYWORD_MISSING: {
    description: "The package's keywords lack robutler-skill (or robutler-plugin), so marketplace search will not find it.",
    message: (pkg: string, keyword: string) => `${pkg}'s package.json keywords do not include ${keyword}, so \`search\` will not find it`,
    hint: (_pkg: string, keyword: string) => `add "${keyword}" to keywords in package.json`,
  },
  RBT_ERR_VALIDATE_FILE_NOT_PUBLISHED: {
    description: 'A file the manifest needs (entry module, worker module, config schema) would not be in the published package (`files` in package.json).',
    message: (pkg: string, file: string, role: string) => `${pkg}'s ${role} ${file} would not be published: npm pack leaves it out`,
    hint: (_pkg: string, file: string) => `list it (or its folder) in package.json \`files\`, and build before publishing (${file})`,
  },
  RBT_ERR_VALIDATE_CONFIG_NEEDED: {
    description: "The skill's config schema refuses an empty config, so validate cannot run setup without `--skill-config`.",
    message: (pkg: string, detail: string) => `${pkg} cannot be set up with the default config: ${detail}`,
    hint: () => `pass a config to validate with: --skill-config '{"key": "value"}', or give the schema defaults`,
  },
  RBT_ERR_VALIDATE_SETUP_FAILED: {
    description: "The skill's setup(config, kernel) threw, or returned something that is not an object of parts.",
    message: (pkg: string, detail: string) => `${pkg}'s setup failed: ${detail}`,
    hint: () => 'setup must return { tools, hooks, prompts, http }; it runs once per agent the skill is attached to',
  },
  RBT_ERR_VALIDATE_TOOL_INVALID: {
    description: 'A tool, hook or route that setup returns would be refused by the kernel: bad name, both or neither of run/worker, duplicate, unknown hook, bad route.',
    message: (pkg: string, what: string, detail: string) => `${pkg} ${what}: ${detail}`,
    hint: () => `tool names match ${TOOL_NAME.source} and each tool has exactly one of run or worker (see docs/skills.md)`,
  },
  RBT_ERR_VALIDATE_TOOL_SCHEMA_INVALID: {
    description: "A tool's parameters are not valid JSON Schema (ajv cannot compile them).",
    message: (pkg: string, tool: string, detail: string) => `${pkg} tool ${tool}: parameters is not valid JSON Schema: ${detail}`,
    hint: () => 'parameters is a JSON Schema object, as { type: "object", properties: { … }, required: [ … ] }',
  },
  RBT_ERR_VALIDATE_WORKER_EXPORT_MISSING: {
    description: "A worker tool names an export that the manifest's worker module does not have as a function (or the module does not load).",
    message: (pkg: string, tool: string, detail: string) => `${pkg} tool ${tool}: ${detail}`,
    hint: () => 'export the function by that name from the module robutler.worker points to, and build the package',
  },
  RBT_ERR_VALIDATE_EXAMPLE_INVALID: {
    description: "A tool example's arguments fail the tool's own parameters schema.",
    message: (pkg: string, tool: string, index: number, detail: string) => `${pkg} tool ${tool} example ${index + 1}: ${detail}`,
    hint: () => "fix the example's arguments, or the schema",
  },
  RBT_ERR_VALIDATE_EXAMPLE_FAILED: {
    description: 'A tool example threw or timed out when run.',
    message: (pkg: string, tool: string, index: number, detail: string) => `${pkg} tool ${tool} example ${index + 1} failed: ${detail}`,
    hint: () => 'run the tool with those arguments in a test to see why',
  },
  RBT_ERR_VALIDATE_EXAMPLE_MISMATCH: {
    description: "A tool example returned something other than its declared `result`.",
    message: (pkg: string, tool: string, index: number, expected: string, actual: string) =>
      `${pkg} tool ${tool} example ${index + 1} returned ${actual}, expected ${expected}`,
    hint: () => "fix the tool, or the example's result",
  },
} as const

const CLI_PROBLEMS = defineProblems(DEFINITIONS)

export type CliProblemCode = keyof typeof DEFINITIONS

/** Every problem code of the CLI with a one-line description (docs/errors.md is checked against this). */
export const CLI_PROBLEM_CODES: { readonly [C in CliProblemCode]: string } = CLI_PROBLEMS.codes

/**
 * Makes a Problem of one of the CLI's codes (the registry's `problem` makes its own).
 *
 * @example
 * problem('RBT_ERR_MARKETPLACE_FOLDER_EXISTS', '@acme/skill-weather', '/home/me/skill-weather')
 */
export const problem = CLI_PROBLEMS.problem
