// The docs as a user follows them: README.md's "Run your own" and the skills guide's author journey
// (docs/skills.md), their commands read from the markdown's code blocks — so the docs cannot drift from what is
// tested — and run in a folder outside the repo against a local npm registry (verdaccio, no uplink) where the
// workspace packages are published, as a user installs them from npm. Three things are changed, each for the
// shared test machine and said here: servers listen on 127.0.0.1 (ROBUTLER_HOST) on a free port (`--port 8000`
// becomes `--port 0`, ROBUTLER_PORT=0), and the curl lines ask the port the server got.
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readdir, readFile, realpath, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import semver from 'semver'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { REPO_ROOT } from './helpers/kernel-app.js'
import { run, startRegistry, type LocalRegistry, type NpmResult } from './helpers/verdaccio.js'

/** Every workspace package a user installs from npm: published to the local registry. */
const PUBLISHED = ['registry', 'kernel', 'cli', 'create-skill', 'plugins/local', 'skills/basics']

interface Block {
  lang: string
  text: string
}

/** The fenced code blocks of the markdown section that starts with `heading`, in order. */
async function blocksOf(file: string, heading: string, endHeading: RegExp): Promise<Block[]> {
  const markdown = await readFile(join(REPO_ROOT, file), 'utf8')
  const start = markdown.indexOf(heading)
  if (start < 0) throw new Error(`${file} has no section ${heading}`)
  const rest = markdown.slice(start + heading.length)
  const end = rest.search(endHeading)
  const section = end < 0 ? rest : rest.slice(0, end)
  return [...section.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].map((match) => ({ lang: match[1]!, text: match[2]! }))
}

/** A shell line without its trailing `  # comment`. */
function commandOf(line: string): string {
  return line.replace(/\s{2,}#.*$/, '').trim()
}

interface Running {
  child: ChildProcess
  address: string
  output: () => string
  exited: Promise<number | null>
}

/** Runs a docs block's commands one after another, as a user types them in one shell. */
class Follower {
  cwd: string
  server: Running | null = null
  readonly outputs: Array<{ command: string; result: NpmResult }> = []
  /** For each server stopped: whether it logged that its drain completed. */
  readonly drains: boolean[] = []

  constructor(
    cwd: string,
    readonly env: NodeJS.ProcessEnv,
  ) {
    this.cwd = cwd
  }

  /** Runs one line; `cd` changes the folder the next ones run in; `npx robutler start` stays up until the next start. */
  async line(line: string): Promise<NpmResult> {
    let last: NpmResult = { code: 0, stdout: '', stderr: '' }
    for (const part of commandOf(line).split(' && ')) {
      const cd = /^cd (\S+)$/.exec(part)
      if (cd) {
        this.cwd = resolve(this.cwd, cd[1]!)
        continue
      }
      if (/^npx robutler start\b/.test(part)) {
        await this.stopServer()
        this.server = await this.start(part.replace('--port 8000', '--port 0'))
        continue
      }
      const address = this.server?.address
      const command = address ? part.replaceAll('http://127.0.0.1:8000', address) : part
      last = await run('bash', ['-c', command], this.cwd, this.env, 300_000)
      this.outputs.push({ command, result: last })
      if (last.code !== 0) throw new Error(`${command} (in ${this.cwd}) exited ${last.code}\n${last.stdout}\n${last.stderr}`)
    }
    return last
  }

  start(command: string): Promise<Running> {
    // Its own process group, as a terminal runs a command: Ctrl-C (and our SIGTERM) reaches npx and the server alike.
    const child = spawn('bash', ['-c', `exec ${command}`], { cwd: this.cwd, env: this.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
    let output = ''
    const exited = new Promise<number | null>((done) => child.on('close', (code) => done(code)))
    return new Promise((done, fail) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL')
        fail(new Error(`${command} did not listen within 60 s\n${output}`))
      }, 60_000)
      const onData = (text: string) => {
        output += text
        const listening = /listening on (http:\/\/[^\s"]+)/.exec(output)
        if (!listening) return
        clearTimeout(timer)
        done({ child, address: listening[1]!, output: () => output, exited })
      }
      child.stdout!.setEncoding('utf8').on('data', onData)
      child.stderr!.setEncoding('utf8').on('data', onData)
      void exited.then((code) => {
        clearTimeout(timer)
        fail(new Error(`${command} exited (${code}) before listening\n${output}`))
      })
    })
  }

  /** SIGTERM to the running command's process group, as a terminal's Ctrl-C does; answers whether the server drained. */
  async stopServer(): Promise<boolean> {
    const server = this.server
    if (!server) return false
    this.server = null
    process.kill(-server.child.pid!, 'SIGTERM')
    const code = await Promise.race([server.exited, new Promise<'late'>((done) => setTimeout(() => done('late'), 20_000))])
    if (code === 'late') {
      process.kill(-server.child.pid!, 'SIGKILL')
      throw new Error(`the server did not exit within 20 s of SIGTERM\n${server.output()}`)
    }
    const drained = /drain complete/.test(server.output())
    this.drains.push(drained)
    return drained
  }
}

/** Every installed package's `engines.node` that the running Node does not satisfy: what npm warns EBADENGINE for. */
async function enginesRefusing(nodeModules: string): Promise<string[]> {
  const refusing: string[] = []
  const visit = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      if (!entry.isDirectory() || entry.name.startsWith('.')) continue
      const folder = join(dir, entry.name)
      if (entry.name.startsWith('@')) {
        await visit(folder)
        continue
      }
      const json = JSON.parse(await readFile(join(folder, 'package.json'), 'utf8').catch(() => '{}'))
      const wanted = json.engines?.node
      if (typeof wanted === 'string' && !semver.satisfies(process.version, wanted)) refusing.push(`${json.name}@${json.version} needs node ${wanted}`)
      if (existsSync(join(folder, 'node_modules'))) await visit(join(folder, 'node_modules'))
    }
  }
  await visit(nodeModules)
  return refusing
}

describe('the docs, followed word for word against a local npm registry', () => {
  let registry: LocalRegistry
  let root: string
  let env: NodeJS.ProcessEnv
  let follower: Follower
  const published = new Map<string, NpmResult>()

  beforeAll(async () => {
    for (const folder of PUBLISHED) {
      if (!existsSync(join(REPO_ROOT, folder, 'dist'))) throw new Error(`${folder}/dist is missing: run npx tsc -b first`)
    }
    root = await realpath(await mkdtemp(join(tmpdir(), 'robutler-docs-')))
    registry = await startRegistry()
    // What the published packages need at run time, and what a new skill's devDependencies bring.
    await registry.seedDependencies([
      ...PUBLISHED.map((folder) => join(REPO_ROOT, folder)),
      join(REPO_ROOT, 'node_modules/typescript'),
      join(REPO_ROOT, 'node_modules/@types/node'),
    ])
    for (const folder of PUBLISHED) published.set(folder, await registry.publishFolder(join(REPO_ROOT, folder)))
    env = { ...registry.env, ROBUTLER_HOST: '127.0.0.1', ROBUTLER_PORT: '0' }
    follower = new Follower(root, env)
  }, 240_000)

  afterAll(async () => {
    await follower?.stopServer().catch(() => undefined)
    await registry?.stop()
    if (root) await rm(root, { recursive: true, force: true })
  })

  it('every published package has a README and a bin npm accepts as written', async () => {
    for (const [folder, result] of published) {
      expect(`${result.stdout}\n${result.stderr}`, folder).not.toContain('auto-corrected')
      const json = JSON.parse(await readFile(join(REPO_ROOT, folder, 'package.json'), 'utf8'))
      const readme = await registry.npm(['view', json.name, 'readme'], root)
      expect(readme.stdout.trim().length, `${json.name}'s README`).toBeGreaterThan(200)
      expect(readme.stdout).not.toContain('No README')
    }
    // The repo resolves dependencies as a user's install does: no override pins a package the published ones use.
    const overrides = Object.keys(JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')).overrides ?? {})
    const closure = await registry.npm(['view', '@robutler/kernel', 'dependencies', '--json'], root)
    for (const name of overrides) expect(Object.keys(JSON.parse(closure.stdout))).not.toContain(name)
  })

  it("README.md's Run your own: install, init, doctor, the fuller config, start, curl, --workers 4, drain", async () => {
    const blocks = await blocksOf('README.md', '## Run your own', /^## /m)
    const shell = blocks.filter((block) => block.lang === 'sh')
    const config = blocks.find((block) => block.lang === 'jsonc' && block.text.startsWith('// robutler.config.json\n'))
    expect(shell.length).toBe(2)
    expect(config, 'the fuller config block').toBeDefined()

    for (const line of shell[0]!.text.trim().split('\n')) await follower.line(line)
    const app = follower.cwd
    expect(app).toBe(join(root, 'my-agents'))
    const installed = follower.outputs.find((entry) => entry.command.startsWith('npm install'))!.result
    expect(installed.stderr).not.toContain('EBADENGINE')
    expect(await enginesRefusing(join(app, 'node_modules'))).toEqual([])
    const doctor = follower.outputs.at(-1)!.result
    expect(doctor.stdout).toContain('no problems found')

    await writeFile(join(app, 'robutler.config.json'), config!.text)
    const answers: string[] = []
    for (const line of shell[1]!.text.trim().split('\n')) {
      const result = await follower.line(line)
      answers.push(result.stdout)
      if (/^npx robutler start --workers/.test(line)) {
        const models = await fetch(`${follower.server!.address}/api/v1/models`).then((response) => response.json())
        expect(models.data.map((model: { id: string }) => model.id)).toEqual(['support'])
      }
    }
    expect(answers[0]).toContain('no problems found')
    expect(JSON.parse(answers[2]!).data.map((model: { id: string }) => model.id)).toEqual(['support'])
    expect(JSON.parse(answers[3]!).choices[0].message.content).toBe('42')
    expect(await follower.stopServer()).toBe(true)
    // The single server and the 4 workers each drained on SIGTERM.
    expect(follower.drains).toEqual([true, true])
  }, 300_000)

  it("the skills guide: npm create @robutler/skill, build, test, validate, publish; then the app searches, adds and serves it", async () => {
    const blocks = (await blocksOf('docs/skills.md', '## For authors', /^## /m)).filter((block) => block.lang === 'sh')
    expect(blocks.map((block) => block.text.split('\n')[0])).toEqual([
      'npm create @robutler/skill weather      # ./weather, package robutler-skill-weather',
      'npx robutler skills validate            # this folder; `skills validate path/to/skill` checks another',
      'npm publish                  # prepublishOnly builds and tests first',
      'cd ../my-agents',
    ])
    follower.cwd = root
    for (const block of blocks) for (const line of block.text.trim().split('\n')) await follower.line(line)
    const output = (command: RegExp) => follower.outputs.find((entry) => command.test(entry.command))!.result
    expect(output(/^npm test/).stdout).toContain('# pass 3')
    expect(output(/^npx robutler skills validate/).stdout).toBe('robutler-skill-weather@1.0.0 is a valid skill: 2 tool(s), 2 example(s) run\n')
    expect(output(/^npx robutler skills search/).stdout).toContain('robutler-skill-weather')
    expect(output(/^npx robutler skills add/).stdout).toBe('added robutler-skill-weather@1.0.0: enabled in skills, attached to agent support\n')
    expect(output(/^npx robutler doctor/).stdout).toContain('no problems found')
    // `skills add` edited the config in place: the comments the README's config has are still there.
    const config = await readFile(join(root, 'my-agents', 'robutler.config.json'), 'utf8')
    expect(config).toMatch(/^\/\/ robutler\.config\.json\n/)
    expect(config).toContain('// skills enabled for every agent that names them, with their default config')
    expect(config).toContain('"robutler-skill-weather": {}')
    for (const { command, result } of follower.outputs) expect(result.stderr, command).not.toContain('EBADENGINE')
  }, 300_000)
})
