// @robutler/cli's public entry: the `robutler` bin is dist/cli.js; this is what a program may call without it.
export { runMarketplaceCommand } from './marketplace/command.js'
export type { MarketplaceContext } from './marketplace/types.js'
export { CLI_PROBLEM_CODES } from './errors.js'
export type { CliProblemCode } from './errors.js'
