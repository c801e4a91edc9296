// `robutler init`: writes a commented starter config (JSON with comments) and says what to install for it.
import { existsSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { discoverPackages, formatReport } from '@robutler/registry'
import { problem } from './errors.js'

/** The starter config: one agent on the built-in local model, every section explained where it is. */
export const STARTER_CONFIG = `// The Robutler config: what this server serves. JSON with comments (// and /* */) and trailing commas.
// Check it with \`npx robutler doctor\`, serve it with \`npx robutler start\`.
{
  // Where to listen. Agents are served under http://HOST:PORT/URLPREFIX/<agent>; with no urlPrefix, at the root.
  // ROBUTLER_HOST, ROBUTLER_PORT and ROBUTLER_LOG_LEVEL override these.
  "server": { "host": "127.0.0.1", "port": 8000, "urlPrefix": "/api/v1" },

  // Plugins (model providers, API keys, rate limits, metrics, agent loaders): npm packages, enabled here.
  "plugins": {
    // Deterministic models for trying things out: local/echo repeats your last message. No API key.
    "@robutler/plugin-local": {}
    // Real models: npm install @robutler/plugin-openai, then:
    // "@robutler/plugin-openai": { "apiKey": "\${OPENAI_API_KEY}" }
  },

  // Skills (tools, prompts, hooks) that agents use: npx robutler skills add <package> --agent <name>.
  "skills": {},

  // The agents: each one is a model for clients (GET /api/v1/models) and a URL of its own.
  "agents": [
    {
      "name": "echo",
      "model": "local/echo",
      "instructions": "You are a helpful assistant."
    }
  ]
}
`

const STARTER_PACKAGES = ['@robutler/kernel', '@robutler/plugin-local']

/** `init`: refuses to overwrite; names what the starter config needs that is not installed. Resolves to the exit code. */
export async function runInit(configPath: string, appDir: string, out: (text: string) => void, err: (text: string) => void): Promise<number> {
  if (existsSync(configPath)) {
    err(formatReport([problem('RBT_ERR_CLI_CONFIG_EXISTS', configPath)]) + '\n')
    return 1
  }
  await writeFile(configPath, STARTER_CONFIG)
  const installed = new Set((await discoverPackages(appDir)).packages.map((found) => found.name))
  // The kernel has no manifest of its own: it counts as installed when this CLI runs beside it.
  installed.add('@robutler/kernel')
  const missing = STARTER_PACKAGES.filter((name) => !installed.has(name))
  const lines = [`wrote ${configPath}: one agent, echo, on the built-in local model`, '']
  if (!existsSync(join(appDir, 'package.json'))) lines.push('  npm init -y')
  if (missing.length > 0) lines.push(`  npm install ${missing.join(' ')}`)
  lines.push('  npx robutler start', '', 'then: curl http://127.0.0.1:8000/api/v1/models', '')
  out(lines.join('\n'))
  return 0
}
