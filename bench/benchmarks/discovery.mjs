// discovery: discoverPackages over an app with 1,000 installed packages, against a plain walk of the same tree; info.
import { mkdir, mkdtemp, readdir, readFile, realpath, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fail } from '../answers.mjs'
import { median } from '../clients.mjs'
import { fmtInt, fmtMs, TIMING_COLUMNS } from '../report.mjs'

export const discovery = {
  id: 'discovery',
  name: 'discovery',
  packages: 1000,
  manifests: 50,
  runs: 5,
  run: (context) => runDiscovery(discovery, context),
  method: () => discoveryMethod(discovery),
}

/** A temp app with `total` packages in node_modules, `manifests` of them Robutler packages; about 1 in 5 scoped. */
async function discoveryApp(total, manifests) {
  const dir = await realpath(await mkdtemp(join(tmpdir(), 'robutler-bench-discovery-')))
  try {
    const writes = []
    for (let i = 0; i < total; i++) {
      const robutler = i % Math.floor(total / manifests) === 0 && i / Math.floor(total / manifests) < manifests
      const scoped = i % 5 === 1 || (robutler && i % 40 === 0)
      const base = robutler ? `robutler-${i % 3 ? 'plugin' : 'skill'}-bench-${i}` : `bench-package-${i}`
      const name = scoped ? `@scope-${i % 20}/${base}` : base
      const packageJson = {
        name,
        version: `1.${i % 7}.${i % 11}`,
        description: `Package ${i} of the discovery benchmark.`,
        type: 'module',
        main: './index.js',
        license: 'MIT',
        dependencies: i % 4 ? { [`bench-package-${(i * 7) % total}`]: '^1.0.0' } : {},
      }
      // Some plain packages mention robutler without a manifest, so discovery must parse them to skip them.
      if (!robutler && i % 50 === 3) packageJson.keywords = ['robutler-compatible']
      if (robutler) {
        const kind = i % 3 ? 'plugin' : 'skill'
        packageJson.peerDependencies = { '@robutler/kernel': '^1.0.0' }
        packageJson.keywords = [`robutler-${kind}`]
        packageJson.robutler = { kind, kernel: '^1.0.0', provides: [`bench:n${i}`], requires: [] }
      }
      const folder = join(dir, 'node_modules', name)
      writes.push(
        mkdir(join(folder, 'lib'), { recursive: true }).then(() =>
          Promise.all([
            writeFile(join(folder, 'package.json'), JSON.stringify(packageJson, null, 2)),
            writeFile(join(folder, 'index.js'), `export * from './lib/main.js'\n`),
            writeFile(join(folder, 'lib', 'main.js'), `export const id = ${i}\n`),
            writeFile(join(folder, 'README.md'), `# ${name}\n`),
          ]),
        ),
      )
    }
    await Promise.all(writes)
  } catch (error) {
    await rm(dir, { recursive: true, force: true })
    throw error
  }
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) }
}

/** Every folder of a tree listed (readdir withFileTypes), folders in parallel: the entries seen. */
async function walkTree(dir) {
  const entries = await readdir(dir, { withFileTypes: true })
  const below = await Promise.all(entries.filter((entry) => entry.isDirectory()).map((entry) => walkTree(join(dir, entry.name))))
  return below.reduce((sum, n) => sum + n, entries.length)
}

/** node_modules and its scopes listed, then every package.json read: the I/O discovery cannot avoid. */
async function readManifests(nodeModules) {
  const entries = await readdir(nodeModules, { withFileTypes: true })
  const folders = (
    await Promise.all(
      entries.map(async (entry) =>
        entry.name.startsWith('@') ? (await readdir(join(nodeModules, entry.name))).map((child) => join(nodeModules, entry.name, child)) : [join(nodeModules, entry.name)],
      ),
    )
  ).flat()
  const texts = await Promise.all(folders.map((folder) => readFile(join(folder, 'package.json'), 'utf8')))
  return texts.length
}

async function runDiscovery(bench, context) {
  const { discoverPackages } = await import('@robutler/registry')
  const app = await discoveryApp(bench.packages, bench.manifests)
  try {
    const nodeModules = join(app.dir, 'node_modules')
    const time = async (fn) => {
      const t0 = performance.now()
      const value = await fn()
      return { ms: performance.now() - t0, value }
    }
    const ways = {
      discover: () => discoverPackages(app.dir),
      walk: () => walkTree(nodeModules),
      read: () => readManifests(nodeModules),
    }
    // The answer first (and a warm file cache): every Robutler package found, valid, and nothing else.
    const first = await discoverPackages(app.dir)
    if (first.packages.length !== bench.manifests || first.problems.length) {
      fail(`discoverPackages found ${first.packages.length} packages (${bench.manifests} expected), ${first.problems.length} problems`)
    }
    const read = await readManifests(nodeModules)
    if (read !== bench.packages) fail(`the tree holds ${read} packages, not ${bench.packages}`)
    const entries = await walkTree(nodeModules)
    const samples = { discover: [], walk: [], read: [] }
    context.write(`${bench.name}:`)
    for (let run = 0; run < bench.runs; run++) {
      for (const [key, fn] of Object.entries(ways)) samples[key].push((await time(fn)).ms)
      context.write(` ${run + 1}`)
    }
    context.write('\n')
    const m = Object.fromEntries(Object.entries(samples).map(([key, values]) => [key, median(values)]))
    const rows = [
      {
        bench: bench.name,
        metric: `discoverPackages, ${fmtInt(bench.packages)} packages (${bench.manifests} Robutler) (median of ${bench.runs})`,
        figure: `${fmtMs(m.discover)} ms`,
        baseline: `${fmtMs(m.walk)} ms (readdir walk, ${fmtInt(entries)} entries)`,
        ratio: `${(m.discover / m.walk).toFixed(1)}×`,
        budget: '-',
        result: 'info',
      },
      {
        bench: bench.name,
        metric: 'discoverPackages ÷ list + read every package.json',
        figure: `${fmtMs(m.discover)} ms`,
        baseline: `${fmtMs(m.read)} ms (list + read)`,
        ratio: `${(m.discover / m.read).toFixed(1)}×`,
        budget: '-',
        result: 'info',
      },
    ]
    const labels = { discover: 'discoverPackages', walk: 'readdir walk (every folder)', read: 'list + read every package.json' }
    const details = Object.entries(samples).map(([key, values]) => ({
      bench: bench.name,
      side: labels[key],
      runs: values.map(fmtMs).join(' / '),
      startMedian: fmtMs(m[key]),
      startMin: fmtMs(Math.min(...values)),
      startMax: fmtMs(Math.max(...values)),
      importMedian: '-',
      processMedian: '-',
    }))
    return { rows, tables: [{ key: 'startup', columns: TIMING_COLUMNS, rows: details }], notes: [] }
  } finally {
    await app.cleanup()
  }
}

function discoveryMethod(bench) {
  return (
    `Discovery (discovery): a temp app with ${fmtInt(bench.packages)} packages in node_modules (package.json, index.js, ` +
    `lib/main.js, README.md each; about 1 in 5 scoped): ${bench.manifests} with a robutler manifest (plugins and skills), the ` +
    `others plain (a few mention robutler in their keywords). In this process: discoverPackages(appDir) from @robutler/registry ` +
    `(checked first: it finds the ${bench.manifests}, no problems), against a readdir walk (withFileTypes, every folder of ` +
    `node_modules, in parallel) and against listing node_modules and its scopes and reading every package.json; one uncounted ` +
    `call of each first, then ${bench.runs} rounds; medians.`
  )
}
