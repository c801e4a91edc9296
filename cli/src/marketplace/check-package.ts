// Everything that can be checked about a package folder without a server: its manifest, its config schema, its
// default export, and for a skill what setup returns and its tools' examples. `validate` runs all of it on an
// author's folder; `add` runs it (examples aside) on what npm just installed, before enabling anything.
import { readFile, realpath } from 'node:fs/promises'
import { join } from 'node:path'
import { kernelAccepts, loadConfigValidator, loadPackages, problem as registryProblem, validateManifest, type ConfigValidator, type PackageKind, type PlannedPackage, type Problem } from '@robutler/registry'
import { problem } from '../errors.js'
import { checkParts, runExamples, setupSkill } from './inspect-skill.js'
import { KEYWORD_OF_KIND } from './types.js'

export interface CheckOptions {
  kind: PackageKind
  kernelVersion: string
  env: NodeJS.ProcessEnv
  /** The config a skill is set up with (default {}), validated against its schema first. */
  skillConfig?: Record<string, unknown>
  /** `validate`: run examples, require the keyword, and count a skill that cannot be set up as a problem. */
  strict: boolean
}

export interface PackageCheck {
  name: string
  version: string
  /** Defects of the package: validate fails, add rolls back. */
  problems: Problem[]
  /** Things the operator must still do (a config the schema needs); printed by add, never fatal there. */
  warnings: Problem[]
  tools: number
  /** The names of the tools setup returned (a skill that could be set up). */
  toolNames: string[]
  examples: number
}

async function readPackageJson(dir: string): Promise<{ json: Record<string, any> } | { problem: Problem }> {
  let text: string
  try {
    text = await readFile(join(dir, 'package.json'), 'utf8')
  } catch {
    // A folder without a readable package.json is not a package: said below with the folder named.
    return { problem: problem('RBT_ERR_MARKETPLACE_NO_PACKAGE_JSON', dir, dir, false) }
  }
  try {
    const json: unknown = JSON.parse(text)
    if (typeof json === 'object' && json !== null && !Array.isArray(json)) return { json: json as Record<string, any> }
    return { problem: registryProblem('RBT_ERR_MANIFEST_INVALID', dir, 'package.json is not a JSON object') }
  } catch (error) {
    return { problem: registryProblem('RBT_ERR_MANIFEST_INVALID', dir, `package.json is not valid JSON (${(error as Error).message})`) }
  }
}

/**
 * Checks the package in `dir` as the kernel will load it. Never throws: everything wrong is a problem.
 *
 * @example
 * const check = await checkPackage('./weather', { kind: 'skill', kernelVersion: '1.0.0', env: process.env, strict: true })
 * if (check.problems.length > 0) console.error(formatReport(check.problems))
 */
export async function checkPackage(folder: string, options: CheckOptions): Promise<PackageCheck> {
  const dir = await realpath(folder).catch(() => folder)
  const read = await readPackageJson(dir)
  const result: PackageCheck = { name: dir, version: '', problems: [], warnings: [], tools: 0, toolNames: [], examples: 0 }
  if ('problem' in read) return { ...result, problems: [read.problem] }
  const json = read.json
  const name = typeof json.name === 'string' ? json.name : dir
  Object.assign(result, { name, version: typeof json.version === 'string' ? json.version : '' })
  const { problems, warnings } = result
  const checked = validateManifest(json, name)
  if (checked.problems) return { ...result, problems: checked.problems }
  const manifest = checked.manifest
  if (manifest.kind !== options.kind) return { ...result, problems: [problem('RBT_ERR_MARKETPLACE_WRONG_KIND', name, manifest.kind, options.kind)] }
  if (!kernelAccepts(manifest.kernel, options.kernelVersion)) problems.push(registryProblem('RBT_ERR_PLUGIN_VERSION_MISMATCH', name, manifest.kernel, options.kernelVersion))
  const keyword = KEYWORD_OF_KIND[options.kind]
  if (options.strict && !(Array.isArray(json.keywords) && json.keywords.includes(keyword))) problems.push(problem('RBT_ERR_VALIDATE_KEYWORD_MISSING', name, keyword))

  const schema = await loadConfigValidator(name, dir, manifest)
  if (schema.problem) problems.push(schema.problem)
  const validateConfig: ConfigValidator = schema.validate ?? ((config) => ({ ok: true, value: (config ?? {}) as Record<string, unknown> }))
  const config = validateConfig(options.skillConfig ?? {})
  const planned: PlannedPackage = {
    name,
    version: result.version,
    kind: manifest.kind,
    dir,
    manifest,
    config: config.ok ? config.value : {},
    packageJson: json,
    validateConfig,
  }
  const loaded = await loadPackages([planned])
  problems.push(...loaded.problems)
  const definition = loaded.packages[0]
  if (!definition || options.kind !== 'skill') return result

  if (!config.ok) {
    const needed = problem('RBT_ERR_VALIDATE_CONFIG_NEEDED', name, config.message)
    ;(options.strict || options.skillConfig !== undefined ? problems : warnings).push(needed)
    return result
  }
  const setup = await setupSkill(name, definition.definition, config.value, { name, version: options.kernelVersion, baseDir: dir, env: options.env, permissions: manifest.permissions })
  if ('problem' in setup) {
    ;(options.strict ? problems : warnings).push(setup.problem)
    return result
  }
  const parts = await checkParts(name, setup.parts, definition.workerPath, manifest.permissions.kernel)
  problems.push(...parts.problems)
  result.tools = parts.tools.length
  result.toolNames = parts.tools.map((tool) => tool.name)
  if (options.strict) {
    const examples = await runExamples(name, parts.tools, parts.worker)
    problems.push(...examples.problems)
    result.examples = examples.ran
  }
  return result
}
