// The one check of an agent config, directly: each problem with its code, under the rules of before and after
// plugins boot.
import { describe, expect, it } from 'vitest'
import { providerHint } from '@robutler/registry'
import { agentConfigProblems, agentInvalid, staticAgentProblems, type AgentRules } from '../../kernel/dist/agent-check.js'

const weather = {
  name: '@acme/skill-weather',
  definition: { name: 'weather', setup: () => ({}) },
  defaults: { units: 'metric' },
  validateConfig: (config: any) => (config.units === 'metric' || config.units === 'imperial' ? { ok: true as const, value: config } : { ok: false as const, message: `/units must be metric or imperial` }),
  workerPath: null,
}
const rules = (unknownSkills: AgentRules['unknownSkills'] = 'problem'): AgentRules => ({
  hasProvider: (prefix) => prefix === 'local',
  reservedBy: (name) => (name === 'health' ? 'the kernel' : name === 'responses' ? '@robutler/plugin-responses' : null),
  skills: new Map([[weather.name, weather]]),
  unknownSkills,
})

describe('agentConfigProblems', () => {
  it('has nothing to say about a good agent', () => {
    expect(agentConfigProblems({ name: 'support', model: 'local/echo', skills: { [weather.name]: { units: 'imperial' } } }, rules())).toEqual([])
  })

  it('reports a bad shape alone', () => {
    const problems = agentConfigProblems({ name: 'Support', model: 'nosuch/x', colour: 'blue' }, rules())
    expect(problems).toHaveLength(1)
    expect(problems[0]).toMatchObject({ code: 'RBT_ERR_AGENT_INVALID' })
    expect(problems[0]!.detail).toMatch(/unknown key 'colour'/)
    expect(agentConfigProblems(null, rules())[0]!.code).toBe('RBT_ERR_AGENT_INVALID')
  })

  it('suggests only packages that exist: the first-party plugin of a known prefix, else the marketplace search', () => {
    expect(providerHint('openai')).toBe("npm install @robutler/plugin-openai, then enable it in the config's `plugins` section")
    expect(providerHint('anthropic')).toContain('npm install @robutler/plugin-anthropic')
    expect(providerHint('nope')).toContain('npx robutler plugins search nope')
    expect(providerHint('nope')).not.toContain('@robutler/plugin-nope')
  })

  it('reports a reserved name, each unknown provider once with the install hint, skills and their configs', () => {
    const problems = agentConfigProblems(
      { name: 'health', model: 'nosuch/a', fallbackModels: ['nosuch/a', 'other/b', 'local/echo'], skills: { [weather.name]: { units: 'kelvin' }, '@acme/skill-nope': {} } },
      rules(),
    )
    expect(problems).toEqual([
      { code: 'RBT_ERR_AGENT_INVALID', detail: "'health' is a route of its own and cannot name an agent", hint: undefined },
      { code: 'RBT_ERR_MODEL_PROVIDER_UNKNOWN', detail: "model 'nosuch/a' names provider 'nosuch', which no enabled plugin provides", hint: providerHint('nosuch') },
      { code: 'RBT_ERR_MODEL_PROVIDER_UNKNOWN', detail: "model 'other/b' names provider 'other', which no enabled plugin provides", hint: providerHint('other') },
      { code: 'RBT_ERR_AGENT_INVALID', detail: `config of skill '${weather.name}': /units must be metric or imperial`, hint: undefined },
      { code: 'RBT_ERR_AGENT_INVALID', detail: "skill '@acme/skill-nope' is not installed or not enabled", hint: 'npm install @acme/skill-nope, then name it in the config' },
    ])
    expect(agentConfigProblems({ name: 'responses', model: 'local/echo' }, rules())).toEqual([
      { code: 'RBT_ERR_AGENT_INVALID', detail: "'responses' is a route of @robutler/plugin-responses and cannot name an agent", hint: undefined },
    ])
    // Before boot, a skill the registry could not load is the registry's problem to report.
    expect(agentConfigProblems({ name: 'a', model: 'local/echo', skills: { '@acme/skill-nope': {} } }, rules('ignore'))).toEqual([])
  })
})

describe('staticAgentProblems and agentInvalid', () => {
  it("words each problem with the agent's name (or its place), and refuses a name defined twice", () => {
    const problems = staticAgentProblems([{ name: 'twin', model: 'local/echo' }, { name: 'twin', model: 'nosuch/m' }, { model: 'local/echo' }], rules())
    expect(problems).toEqual([
      { code: 'RBT_ERR_MODEL_PROVIDER_UNKNOWN', message: "Agent 'twin': model 'nosuch/m' names provider 'nosuch', which no enabled plugin provides", hint: providerHint('nosuch') },
      { code: 'RBT_ERR_AGENT_INVALID', message: "Agent 'twin' is defined twice" },
      { code: 'RBT_ERR_AGENT_INVALID', message: expect.stringMatching(/^Agent 'agents\[2\]': .*name/) },
    ])
  })

  it('makes one RBT_ERR_AGENT_INVALID naming every problem, hints in brackets', () => {
    const error = agentInvalid('x', agentConfigProblems({ name: 'x', model: 'nosuch/m', skills: { '@acme/skill-nope': {} } }, rules()))
    expect([error.code, error.statusCode]).toEqual(['RBT_ERR_AGENT_INVALID', 500])
    expect(error.message).toBe(
      `Agent 'x' is misconfigured: model 'nosuch/m' names provider 'nosuch', which no enabled plugin provides (${providerHint('nosuch')}); ` +
        "skill '@acme/skill-nope' is not installed or not enabled (npm install @acme/skill-nope, then name it in the config)",
    )
  })
})
