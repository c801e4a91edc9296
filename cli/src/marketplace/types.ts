// What the marketplace verbs are given, and the names they share.
import type { PackageKind } from '@robutler/registry'

/** What the `robutler` CLI hands the marketplace: the running kernel, where the app is, and where to write. */
export interface MarketplaceContext {
  /** The installed kernel's version: a package is compatible when its robutler.kernel range accepts it. */
  kernelVersion: string
  /** The peer range new packages get (`skills new`): `^1.0.0` for kernel 1.x. */
  kernelRange: string
  /** The app folder: npm runs here, and packages are discovered in its node_modules. */
  cwd: string
  /** The robutler.config.json that `add` and `remove` edit and `list` reads. */
  configPath: string
  /** The environment npm runs with (its registry, auth and cache settings come from here and the .npmrc files). */
  env: NodeJS.ProcessEnv
  /**
   * Asks the operator a yes/no question on the terminal (`skills add` asks to grant a skill's permissions); absent
   * when there is no terminal, and `add` then needs `--yes`.
   */
  confirm?: (question: string) => Promise<boolean>
  /** Results (tables, the scaffolded folder). */
  stdout(text: string): void
  /** Progress, npm's output, and problems. */
  stderr(text: string): void
}

/** The keyword that marketplace search finds packages of a kind by. */
export const KEYWORD_OF_KIND: Readonly<Record<PackageKind, string>> = { plugin: 'robutler-plugin', skill: 'robutler-skill' }
