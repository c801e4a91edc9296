#!/usr/bin/env node
// `npm create @robutler/skill NAME` (npm runs this package's bin): the same scaffold as `robutler skills new NAME`,
// for skill authors who have nothing installed yet. The templates live in @robutler/cli, in one place.
import { runMarketplaceCommand } from '@robutler/cli'
import { KERNEL_VERSION } from '@robutler/kernel'

const USAGE = `npm create @robutler/skill <name>

Scaffolds a Robutler skill package in ./<name>: weather → robutler-skill-weather in ./weather;
@acme/skill-weather keeps the scoped name, in ./skill-weather. The same as: npx @robutler/cli skills new <name>
`

const args = process.argv.slice(2)
if (args.length !== 1 || args[0] === '--help' || args[0] === '-h' || args[0]!.startsWith('-')) {
  const asked = args[0] === '--help' || args[0] === '-h'
  ;(asked ? process.stdout : process.stderr).write(asked ? USAGE : `create-skill: give one name\n\n${USAGE}`)
  process.exit(asked ? 0 : 2)
}

process.exitCode = await runMarketplaceCommand('skill', ['new', args[0]!], {
  kernelVersion: KERNEL_VERSION,
  kernelRange: `^${KERNEL_VERSION.split('.')[0]}.0.0`,
  cwd: process.cwd(),
  // `new` reads no config: it writes a package folder.
  configPath: 'robutler.config.json',
  env: process.env,
  stdout: (text) => void process.stdout.write(text),
  stderr: (text) => void process.stderr.write(text),
})
