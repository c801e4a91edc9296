// Where the app is: packages are found from it (its node_modules, as Node resolves them), wherever the config lives.
import { existsSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'

/**
 * The app folder: `--app-dir` when given; else the working directory's package (the nearest folder up from it
 * with a package.json, as npm finds the project); else, when the working directory is in no package at all,
 * the config file's folder.
 */
export function findAppDir(given: string | undefined, cwd: string, configDir: string): string {
  if (given !== undefined) return resolve(cwd, given)
  for (let dir = resolve(cwd); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir
    if (dirname(dir) === dir) return configDir
  }
}
