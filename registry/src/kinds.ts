// The config section that enables a package of each kind: one table for planning, problems and the CLI.
import type { PackageKind, Section } from './types.js'

export const SECTION_OF_KIND: Readonly<Record<PackageKind, Section>> = { plugin: 'plugins', skill: 'skills' }
