// The OpenAI Agents SDK (`@openai/agents`, from test/clients) runs an Agent whose model is a Robutler agent through
// the Responses surface, with one function tool of its own: the model (local/echo) calls the tool, the SDK runs
// it and sends its output back as a function_call_output item, and the run ends with the tool's answer.
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
// @ts-expect-error: a plain ES module script, without types
import { CLIENTS_DIR, ensureClients } from './clients/install.mjs'
import { startServer, type TestServer } from './helpers/test-server.js'

/** A package of test/clients, as its ES module entry. */
async function fromClients(name: string): Promise<any> {
  const require = createRequire(join(CLIENTS_DIR, 'package.json'))
  const entry = require.resolve(name).replace(/\.js$/, '.mjs')
  return import(pathToFileURL(entry).href)
}

describe('@openai/agents through the Responses surface', () => {
  let t: TestServer

  beforeAll(async () => {
    ensureClients()
    t = await startServer(['local', 'responses'], {
      urlPrefix: '/api/v1',
      plugins: { '@robutler/plugin-local': {}, '@robutler/plugin-responses': {} },
      agents: [{ name: 'echo', model: 'local/echo', instructions: 'Be brief.' }],
    })
  }, 600_000)
  afterAll(async () => {
    await t?.close()
  })

  it('runs an Agent with one function tool of its own to a final output', async () => {
    const agents = await fromClients('@openai/agents')
    const { default: OpenAI } = await fromClients('openai')
    const { z } = await fromClients('zod')
    agents.setTracingDisabled(true)
    const client = new OpenAI({ baseURL: t.url, apiKey: 'unused', maxRetries: 0 })
    const calls: string[] = []
    const getWeather = agents.tool({
      name: 'get_weather',
      description: 'The weather of a city',
      parameters: z.object({ city: z.string() }),
      execute: async ({ city }: { city: string }) => {
        calls.push(city)
        return `Sunny in ${city}`
      },
    })
    const agent = new agents.Agent({
      name: 'Weather assistant',
      instructions: 'Answer with the weather.',
      model: new agents.OpenAIResponsesModel(client, 'echo'),
      tools: [getWeather],
    })
    const result = await agents.run(agent, '/tool get_weather {"city":"Paris"}')
    expect(calls).toEqual(['Paris'])
    expect(result.finalOutput).toBe('Sunny in Paris')
  }, 60_000)
})
