#!/usr/bin/env node
// Installs the large real clients of test/clients/package.json (Claude Code, …) into test/clients/node_modules
// once: again only when package.json or package-lock.json changed since the last install. `npm test` runs it
// before vitest; tests that drive a client call ensureClients() too, so running one file alone works.
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

export const CLIENTS_DIR = fileURLToPath(new URL('.', import.meta.url))
const STAMP = join(CLIENTS_DIR, 'node_modules', '.installed-from')

function manifestHash() {
  const hash = createHash('sha256')
  for (const file of ['package.json', 'package-lock.json']) {
    const path = join(CLIENTS_DIR, file)
    if (existsSync(path)) hash.update(readFileSync(path))
  }
  return hash.digest('hex')
}

/** Installs the clients unless the installed ones match package.json and its lock; answers whether it installed. */
export function ensureClients() {
  const wanted = manifestHash()
  if (existsSync(STAMP) && readFileSync(STAMP, 'utf8') === wanted) return false
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
  const verb = existsSync(join(CLIENTS_DIR, 'package-lock.json')) ? 'ci' : 'install'
  // The clients' install scripts are not needed (their binaries ship in the packages) and none may fetch anything.
  execFileSync(npm, [verb, '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error'], { cwd: CLIENTS_DIR, stdio: 'inherit', timeout: 600_000 })
  // The first install writes package-lock.json: the stamp covers it.
  writeFileSync(STAMP, manifestHash())
  return true
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) ensureClients()
