// Runs `robutler skills|plugins …` as a process: the repo's CLI (cli/dist/cli.js, what `npx robutler` runs in a
// skill author's folder that links the kernel), or an app's own installed bin (what an operator runs).
import { join } from 'node:path'
import { CLI, cleanEnv } from './cli-process.js'
import { run, type NpmResult } from './verdaccio.js'

/** `robutler <args>` through the repo's CLI, in `cwd`; `env` defaults to process.env without ROBUTLER_*. */
export function robutler(args: string[], cwd: string, env: NodeJS.ProcessEnv = cleanEnv()): Promise<NpmResult> {
  return run(process.execPath, [CLI, ...args], cwd, env)
}

/** `<app>/node_modules/.bin/robutler <args>`: the CLI that came with the kernel the app installed from the registry. */
export function appRobutler(app: string, args: string[], env: NodeJS.ProcessEnv): Promise<NpmResult> {
  return run(join(app, 'node_modules/.bin/robutler'), args, app, env)
}
