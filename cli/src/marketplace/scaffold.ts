// `robutler skills new <name>`: writes a skill package into ./<name>, ready to build, test, validate and publish.
import { mkdir, readdir, writeFile } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { problem } from '../errors.js'
import { formatReport } from '@robutler/registry'
import { nameProblem } from './package-spec.js'
import { skillFiles, type SkillNames } from './skill-template.js'
import type { MarketplaceContext } from './types.js'

const UNSCOPED_PREFIX = 'robutler-skill-'

function pascalCase(words: string): string {
  const joined = words
    .split(/[^a-zA-Z0-9]+/)
    .filter(Boolean)
    .map((word) => word[0]!.toUpperCase() + word.slice(1))
    .join('')
  return /^[A-Za-z]/.test(joined) ? joined : `Skill${joined}`
}

/**
 * The names of a new skill: `weather` → package `robutler-skill-weather` in ./weather; a scoped
 * `@acme/skill-weather` (or an unscoped `robutler-skill-weather`) is kept as the package name, in ./skill-weather.
 */
export function skillNames(given: string): { names: SkillNames } | { invalid: string } {
  const invalid = nameProblem(given)
  if (invalid) return { invalid }
  const scoped = given.startsWith('@')
  const base = scoped ? given.slice(given.indexOf('/') + 1) : given
  const packageName = scoped || given.startsWith(UNSCOPED_PREFIX) ? given : `${UNSCOPED_PREFIX}${given}`
  const skillName = base.replace(/^(?:robutler-)?skill-/, '') || base
  const toolPrefix = skillName.replace(/[^a-z0-9]+/g, '_').replace(/^_+|_+$/g, '').slice(0, 40) || 'skill'
  return { names: { packageName, dir: base, skillName, toolPrefix, configType: `${pascalCase(skillName)}Config` } }
}

async function isEmptyOrMissing(dir: string): Promise<boolean> {
  try {
    return (await readdir(dir)).length === 0
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return true
    throw error
  }
}

/** `new <name>`: scaffolds the package and prints what to do next. */
export async function runNew(given: string, context: MarketplaceContext): Promise<number> {
  const named = skillNames(given)
  if ('invalid' in named) {
    context.stderr(formatReport([problem('RBT_ERR_MARKETPLACE_NAME_INVALID', given, named.invalid)]) + '\n')
    return 1
  }
  const { names } = named
  const dir = resolve(context.cwd, names.dir)
  if (!(await isEmptyOrMissing(dir))) {
    context.stderr(formatReport([problem('RBT_ERR_MARKETPLACE_FOLDER_EXISTS', names.packageName, dir)]) + '\n')
    return 1
  }
  for (const [path, text] of Object.entries(skillFiles(names, context.kernelRange))) {
    await mkdir(dirname(join(dir, path)), { recursive: true })
    await writeFile(join(dir, path), text)
  }
  context.stdout(
    [
      `created ${names.packageName} in ./${names.dir} (kernel ${context.kernelRange})`,
      '',
      'next:',
      `  cd ${names.dir}`,
      '  npm install',
      '  npm run build && npm test',
      '  npx robutler skills validate',
      '  npm publish',
      '',
    ].join('\n'),
  )
  return 0
}
