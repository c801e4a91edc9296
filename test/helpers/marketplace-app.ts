// Apps and packages for the marketplace tests: a fresh operator app, a skill author's workspace where a package
// scaffolded by `skills new` builds offline, and an app's own `robutler start` as a child process.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdir, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { REPO_ROOT } from './kernel-app.js'

/** A fresh app folder: package.json and a config serving one agent, `echo`, on plugin-local's scripted model. */
export async function writeOperatorApp(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true })
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'operator-app', version: '1.0.0', private: true }, null, 2) + '\n')
  const config = {
    server: { host: '127.0.0.1', port: 0, logLevel: 'info', workerThreads: 1 },
    plugins: { '@robutler/plugin-local': {} },
    agents: [{ name: 'echo', model: 'local/echo', instructions: 'You are a helpful assistant.' }],
  }
  await writeFile(join(dir, 'robutler.config.json'), JSON.stringify(config, null, 2) + '\n')
}

/**
 * A folder where a skill package can build and test offline: node_modules links to the repo's kernel, typescript
 * and @types/node (what `npm install` of the package's devDependencies would bring), with `tsc` on the bin path.
 */
export async function writeAuthorWorkspace(dir: string): Promise<void> {
  const modules = join(dir, 'node_modules')
  await mkdir(join(modules, '@robutler'), { recursive: true })
  await mkdir(join(modules, '@types'), { recursive: true })
  await mkdir(join(modules, '.bin'), { recursive: true })
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'author-workspace', private: true }, null, 2) + '\n')
  await symlink(join(REPO_ROOT, 'kernel'), join(modules, '@robutler/kernel'), 'dir')
  await symlink(join(REPO_ROOT, 'node_modules/typescript'), join(modules, 'typescript'), 'dir')
  await symlink(join(REPO_ROOT, 'node_modules/@types/node'), join(modules, '@types/node'), 'dir')
  await symlink('../typescript/bin/tsc', join(modules, '.bin/tsc'))
}

export interface RunningApp {
  child: ChildProcess
  address: string
  output(): string
  stop(): Promise<void>
}

/** `<app>/node_modules/.bin/robutler start`; resolves once its log says where it listens. */
export function startApp(dir: string, env: NodeJS.ProcessEnv, timeoutMs = 20_000): Promise<RunningApp> {
  const child = spawn(join(dir, 'node_modules/.bin/robutler'), ['start'], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()))
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, 'SIGTERM')
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000))])
    if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, 'SIGKILL')
  }
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void stop()
      reject(new Error(`robutler start did not listen within ${timeoutMs} ms\n${output}`))
    }, timeoutMs)
    const onData = (text: string) => {
      output += text
      const listening = /listening on (http:\/\/[^\s"]+)/.exec(output)
      if (!listening) return
      clearTimeout(timer)
      resolve({ child, address: listening[1]!, output: () => output, stop })
    }
    child.stdout!.setEncoding('utf8').on('data', onData)
    child.stderr!.setEncoding('utf8').on('data', onData)
    child.on('error', reject)
    void exited.then(() => {
      clearTimeout(timer)
      reject(new Error(`robutler start exited (${child.exitCode}) before listening\n${output}`))
    })
  })
}
