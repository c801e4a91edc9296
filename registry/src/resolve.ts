// The registry's one-call entry: discover what is installed, plan what is enabled, load it.
import { discoverPackages } from './discover.js'
import { loadPackages } from './load.js'
import { planPackages } from './plan.js'
import type { LoadReport, PlanInput } from './types.js'

/**
 * Finds, checks and imports the packages a config enables, collecting every problem into one report (a broken
 * app shows all that is wrong at once, not the first thing). Packages appear in boot order. Discovery problems of
 * packages nobody enables stay on `discovered[i].problems` and do not make the report fail.
 *
 * @example
 * const report = await resolvePackages({
 *   appDir: process.cwd(),
 *   kernelVersion: '1.0.0',
 *   selection: {
 *     plugins: { '@robutler/plugin-openai': { apiKey: process.env.OPENAI_API_KEY } },
 *     skills: { '@acme/skill-weather': { units: 'metric' } },
 *     capabilities: ['llm:openai'],
 *     fromEnvironment: { 'PROMETHEUS_ENABLED=true': '@robutler/plugin-prometheus' },
 *   },
 * })
 * if (report.problems.length > 0) throw new Error(formatReport(report.problems))
 * for (const loaded of report.packages) await boot(loaded.definition, loaded.config)
 */
export async function resolvePackages(input: PlanInput): Promise<LoadReport> {
  const discovery = await discoverPackages(input.appDir)
  const plan = await planPackages(input, discovery.packages)
  const load = await loadPackages(plan.packages, { isolated: new Set(input.selection.isolated ?? []) })
  return { packages: load.packages, problems: [...plan.problems, ...load.problems], enabled: plan.enabled, discovered: discovery.packages }
}
