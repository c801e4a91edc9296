// A private PostgreSQL server for fault tests: initdb into a temp folder, pg_ctl start/stop on a free port with
// trust auth. Only this server is ever stopped; the shared one (DATABASE_URL) is never touched. initdb refuses
// to run as root, so under root both run as the `postgres` user (runuser) on a folder that user owns.
import { execFile } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import { chown, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)

/** The folder holding initdb and pg_ctl: PG_BINDIR, else the newest /usr/lib/postgresql/<version>/bin; null if none. */
export function findPostgresBin(): string | null {
  const given = process.env.PG_BINDIR
  if (given && existsSync(join(given, 'initdb'))) return given
  const root = '/usr/lib/postgresql'
  if (existsSync(root)) {
    const versions = readdirSync(root)
      .filter((v) => existsSync(join(root, v, 'bin', 'initdb')) && existsSync(join(root, v, 'bin', 'pg_ctl')))
      .sort((a, b) => Number(b) - Number(a))
    if (versions.length > 0) return join(root, versions[0]!, 'bin')
  }
  for (const dir of ['/usr/local/pgsql/bin', '/usr/pgsql/bin']) if (existsSync(join(dir, 'initdb'))) return dir
  return null
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

async function idOf(user: string): Promise<{ uid: number; gid: number }> {
  const [uid, gid] = await Promise.all([run('id', ['-u', user]), run('id', ['-g', user])])
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) }
}

export interface PrivatePostgres {
  /** `postgres://postgres@127.0.0.1:PORT/postgres` */
  readonly url: string
  readonly port: number
  readonly running: boolean
  start(): Promise<void>
  /** `pg_ctl stop -m fast`: clients are disconnected at once. */
  stop(): Promise<void>
  /** Stops it if it runs and removes its folder. */
  destroy(): Promise<void>
}

/** initdb's a new cluster in a temp folder and starts it on a free 127.0.0.1 port. */
export async function startPrivatePostgres(bin = findPostgresBin()): Promise<PrivatePostgres> {
  if (!bin) throw new Error('no PostgreSQL server binaries (initdb, pg_ctl) found: install postgresql or set PG_BINDIR')
  const asRoot = process.getuid?.() === 0
  const dir = await mkdtemp(join(tmpdir(), 'robutler-pg-'))
  const data = join(dir, 'data')
  const logFile = join(dir, 'server.log')
  const exec = async (tool: string, args: string[]) => {
    const command = join(bin, tool)
    try {
      return asRoot ? await run('runuser', ['-u', 'postgres', '--', command, ...args], { cwd: dir }) : await run(command, args, { cwd: dir })
    } catch (error) {
      const e = error as { stderr?: string; stdout?: string; message: string }
      const log = await readFile(logFile, 'utf8').catch(() => '')
      throw new Error(`${tool} ${args.join(' ')} failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}${log ? `\nserver log:\n${log}` : ''}`)
    }
  }
  let running = false
  let port = 0
  try {
    await mkdir(data)
    if (asRoot) {
      const { uid, gid } = await idOf('postgres')
      await chown(dir, uid, gid)
      await chown(data, uid, gid)
    }
    await exec('initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-sync'])
    port = await freePort()
  } catch (error) {
    await rm(dir, { recursive: true, force: true })
    throw error
  }
  const options = `-k ${dir} -h 127.0.0.1 -p ${port} -c fsync=off -c synchronous_commit=off -c full_page_writes=off`
  const instance: PrivatePostgres = {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    get running() {
      return running
    },
    async start() {
      await exec('pg_ctl', ['-D', data, '-l', logFile, '-o', options, '-w', '-t', '30', 'start'])
      running = true
    },
    async stop() {
      await exec('pg_ctl', ['-D', data, '-m', 'fast', '-w', '-t', '30', 'stop'])
      running = false
    },
    async destroy() {
      try {
        if (running) await instance.stop()
      } finally {
        await rm(dir, { recursive: true, force: true })
      }
    },
  }
  try {
    await instance.start()
  } catch (error) {
    await rm(dir, { recursive: true, force: true })
    throw error
  }
  return instance
}
