// A private npm registry for the marketplace tests: verdaccio 5 on 127.0.0.1 with no uplink (nothing leaves the
// machine), its storage and the npm config that points at it in a temp folder. The user's ~/.npmrc is never read:
// npm gets its own userconfig, globalconfig and cache through the environment.
import { spawn, type ChildProcess } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, readFileSync, realpathSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { REPO_ROOT } from './kernel-app.js'

const VERDACCIO_BIN = join(REPO_ROOT, 'node_modules/verdaccio/bin/verdaccio')

export interface NpmResult {
  code: number | null
  stdout: string
  stderr: string
}

export interface LocalRegistry {
  /** `http://127.0.0.1:PORT/` */
  url: string
  /** The temp folder holding the registry's storage and npm's config and cache. */
  dir: string
  /** An environment whose npm uses only this registry (and no ROBUTLER_* variables). */
  env: NodeJS.ProcessEnv
  /** Runs npm with `env` in `cwd`. */
  npm(args: string[], cwd: string): Promise<NpmResult>
  /** `npm publish <folder>`; throws with npm's output when it fails, else answers it. */
  publishFolder(folder: string, extraArgs?: string[]): Promise<NpmResult>
  /**
   * Publishes every third-party package that the packages in `folders` need at runtime (their dependency closure
   * as installed in the repo's node_modules), so `npm install` of them works against this registry alone.
   */
  seedDependencies(folders: string[]): Promise<number>
  stop(): Promise<void>
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

/** process.env without npm's own variables (set when the tests run under `npm test`) and without ROBUTLER_*. */
function baseEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [key, value] of Object.entries(process.env)) {
    if (/^npm_/i.test(key) || key.startsWith('ROBUTLER_') || key === 'PROMETHEUS_ENABLED') continue
    env[key] = value
  }
  return env
}

export function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv, timeoutMs = 120_000): Promise<NpmResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text))
    child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text))
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`${command} ${args.join(' ')} still running after ${timeoutMs} ms\n${stdout}\n${stderr}`))
    }, timeoutMs)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })
}

async function waitForPing(url: string, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 30_000
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`verdaccio exited with ${child.exitCode}\n${output()}`)
    try {
      if ((await fetch(`${url}-/ping`)).ok) return
    } catch {
      // Not listening yet: poll again.
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`verdaccio did not answer /-/ping within 30 s\n${output()}`)
}

/** A user made through the registry's CouchDB user endpoint (what `npm adduser` does); answers its token. */
async function createUser(url: string): Promise<string> {
  const response = await fetch(`${url}-/user/org.couchdb.user:tester`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'tester', password: 'tester-password-1' }),
  })
  const body = (await response.json()) as { token?: string }
  if (!response.ok || !body.token) throw new Error(`cannot create a verdaccio user: ${response.status} ${JSON.stringify(body)}`)
  return body.token
}

/** Where Node would resolve `name` from a package folder: its own node_modules, then each ancestor's. */
function resolvePackageDir(from: string, name: string): string | null {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name)
    if (existsSync(join(candidate, 'package.json'))) return realpathSync(candidate)
    if (dirname(dir) === dir) return null
  }
}

/** name@version → folder of every package `folders` need at runtime (optional ones that are not installed skipped). */
function dependencyClosure(folders: string[]): Map<string, string> {
  const found = new Map<string, string>()
  const visit = (dir: string): void => {
    const json = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'))
    const key = `${json.name}@${json.version}`
    if (found.has(key)) return
    found.set(key, dir)
    for (const name of Object.keys({ ...json.dependencies, ...json.optionalDependencies })) {
      const child = resolvePackageDir(dir, name)
      if (child) visit(child)
    }
  }
  for (const folder of folders) visit(realpathSync(folder))
  return found
}

/** The body npm's publish sends (libnpmpublish): the manifest and the tarball as a base64 attachment. */
function publishBody(url: string, manifest: Record<string, any>, tarball: Buffer): Record<string, unknown> {
  const clean = Object.fromEntries(Object.entries(manifest).filter(([key]) => !key.startsWith('_')))
  const { name, version } = clean as { name: string; version: string }
  const tarballName = `${name}-${version}.tgz`
  const dist = {
    integrity: `sha512-${createHash('sha512').update(tarball).digest('base64')}`,
    shasum: createHash('sha1').update(tarball).digest('hex'),
    tarball: `${url}${name}/-/${tarballName}`,
  }
  return {
    _id: name,
    name,
    description: clean.description,
    'dist-tags': { latest: version },
    versions: { [version]: { ...clean, _id: `${name}@${version}`, dist } },
    access: null,
    _attachments: { [tarballName]: { content_type: 'application/octet-stream', data: tarball.toString('base64'), length: tarball.length } },
  }
}

/**
 * Starts verdaccio on a free port of 127.0.0.1 with its storage in a temp folder, no uplinks, and one user whose
 * token the npm config carries (npm will not publish without one, even where the registry would allow it).
 */
export async function startRegistry(): Promise<LocalRegistry> {
  const dir = realpathSync(await mkdtemp(join(tmpdir(), 'robutler-verdaccio-')))
  const port = await freePort()
  const url = `http://127.0.0.1:${port}/`
  const config = [
    `storage: ${JSON.stringify(join(dir, 'storage'))}`,
    'auth:',
    '  htpasswd:',
    `    file: ${JSON.stringify(join(dir, 'htpasswd'))}`,
    '    max_users: 10',
    'uplinks: {}',
    'packages:',
    "  '**':",
    '    access: $all',
    '    publish: $authenticated',
    '    unpublish: $authenticated',
    'max_body_size: 200mb',
    'web:',
    '  enable: false',
    'log: { type: stdout, format: json, level: warn }',
    '',
  ].join('\n')
  await writeFile(join(dir, 'config.yaml'), config)
  const child = spawn(process.execPath, [VERDACCIO_BIN, '-c', join(dir, 'config.yaml'), '-l', `127.0.0.1:${port}`], {
    cwd: dir,
    env: baseEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout!.setEncoding('utf8').on('data', (text: string) => (output += text))
  child.stderr!.setEncoding('utf8').on('data', (text: string) => (output += text))
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()))
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      process.kill(child.pid!, 'SIGTERM')
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))])
      if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, 'SIGKILL')
    }
    await rm(dir, { recursive: true, force: true })
  }
  let token: string
  try {
    await waitForPing(url, child, () => output)
    token = await createUser(url)
    const host = url.replace(/^http:/, '')
    await writeFile(join(dir, 'npmrc'), [`registry=${url}`, `${host}:_authToken=${token}`, 'audit=false', 'fund=false', 'update-notifier=false', 'loglevel=notice', ''].join('\n'))
    await writeFile(join(dir, 'global-npmrc'), '')
    await mkdir(join(dir, 'cache'))
  } catch (error) {
    await stop()
    throw error
  }
  const env: NodeJS.ProcessEnv = {
    ...baseEnv(),
    npm_config_userconfig: join(dir, 'npmrc'),
    npm_config_globalconfig: join(dir, 'global-npmrc'),
    npm_config_cache: join(dir, 'cache'),
    npm_config_registry: url,
  }
  const npm = (args: string[], cwd: string) => run('npm', args, cwd, env)

  return {
    url,
    dir,
    env,
    npm,
    async publishFolder(folder, extraArgs = []) {
      const result = await npm(['publish', folder, ...extraArgs], dir)
      if (result.code !== 0) throw new Error(`npm publish ${folder} failed (${result.code})\n${result.stdout}\n${result.stderr}`)
      return result
    },
    async seedDependencies(folders) {
      const closure = [...dependencyClosure(folders)].filter(([key]) => !key.startsWith('@robutler/'))
      const packs = join(dir, 'packs')
      await mkdir(packs, { recursive: true })
      const packed = await npm(['pack', '--json', '--ignore-scripts', '--pack-destination', packs, ...closure.map(([, folder]) => folder)], dir)
      if (packed.code !== 0) throw new Error(`npm pack failed\n${packed.stderr}`)
      const files = new Map((JSON.parse(packed.stdout) as Array<{ name: string; version: string; filename: string }>).map((entry) => [`${entry.name}@${entry.version}`, entry.filename]))
      // One package's versions one after the other (each PUT adds a version to the same document); names in parallel.
      const byName = new Map<string, Array<[string, string]>>()
      for (const [key, folder] of closure) {
        const name = key.slice(0, key.lastIndexOf('@'))
        byName.set(name, [...(byName.get(name) ?? []), [key, folder]])
      }
      await Promise.all(
        [...byName.values()].map(async (versions) => {
          for (const [key, folder] of versions) {
            const manifest = JSON.parse(await readFile(join(folder, 'package.json'), 'utf8'))
            const tarball = await readFile(join(packs, files.get(key)!))
            const response = await fetch(`${url}${encodeURIComponent(manifest.name).replace('%40', '@')}`, {
              method: 'PUT',
              headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
              body: JSON.stringify(publishBody(url, manifest, tarball)),
            })
            if (!response.ok) throw new Error(`publishing ${key} failed: ${response.status} ${await response.text()}`)
          }
        }),
      )
      return closure.length
    },
    stop,
  }
}
