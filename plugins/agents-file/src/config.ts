// The plugin's config section, with the schema's defaults filled in and the folder made absolute.
import { resolve } from 'node:path'

export interface AgentsFileConfig {
  /** The folder of `NAME.json` agent files, relative to the config file's folder (default `./agents`). */
  dir?: string
  /** Where this loader runs among the agent loaders, lower first (default 100). */
  priority?: number
}

export interface AgentsFileSettings {
  dir: string
  priority: number
}

export const DEFAULT_DIR = './agents'
export const DEFAULT_PRIORITY = 100

export function settingsOf(config: AgentsFileConfig, baseDir: string): AgentsFileSettings {
  return {
    dir: resolve(baseDir, config.dir ?? DEFAULT_DIR),
    priority: config.priority ?? DEFAULT_PRIORITY,
  }
}
