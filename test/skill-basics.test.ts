import { describe, it, expect } from 'vitest'
import type { KernelApi, ModelRequest, RequestContext, SkillParts, SkillTool, ToolRunContext } from '@robutler/kernel'
import skill from '@robutler/skill-basics'

async function setup(config: Record<string, unknown> = {}): Promise<SkillParts> {
  return skill.setup(config, {} as KernelApi)
}

async function tool(name: string, config: Record<string, unknown> = {}): Promise<SkillTool> {
  const found = (await setup(config)).tools?.find((candidate) => candidate.name === name)
  if (!found?.run) throw new Error(`skill-basics has no in-process tool '${name}'`)
  return found
}

const runContext = { signal: new AbortController().signal } as ToolRunContext

async function calculate(expression: string): Promise<unknown> {
  return (await tool('calculate')).run!({ expression }, runContext)
}

const today = () => new Date().toISOString().slice(0, 10)

describe('skill-basics', () => {
  it('sets up two tools, a prompt and a beforeLlmCall hook, at priority 50', async () => {
    expect(skill.name).toBe('basics')
    const parts = await setup()
    expect(parts.tools?.map((candidate) => candidate.name)).toEqual(['calculate', 'current_time'])
    expect(parts.prompts).toHaveLength(1)
    expect(parts.prompts?.[0]).toMatchObject({ priority: 50, text: expect.stringContaining('calculate') })
    expect(parts.hooks?.beforeLlmCall).toMatchObject({ priority: 50, fn: expect.any(Function) })
    for (const candidate of parts.tools ?? []) {
      expect(candidate.parameters).toMatchObject({ type: 'object', additionalProperties: false, required: expect.any(Array) })
      expect(candidate.examples?.length).toBeGreaterThan(0)
    }
  })

  it('has calculate examples whose results the tool returns', async () => {
    const calculateTool = await tool('calculate')
    for (const example of calculateTool.examples ?? []) {
      expect(await calculateTool.run!(example.arguments, runContext)).toEqual(example.result)
    }
  })

  describe('calculate', () => {
    it.each([
      ['1 + 2', '3'],
      ['2 + 3 * 4', '14'],
      ['(2 + 3) * 4', '20'],
      ['10 - 4 - 3', '3'],
      ['100 / 10 / 5', '2'],
      ['7 / 2', '3.5'],
      ['2 ^ 3 ^ 2', '512'],
      ['(2 ^ 3) ^ 2', '64'],
      ['2 ** 10', '1024'],
      ['-2 ^ 2', '-4'],
      ['(-2) ^ 2', '4'],
      ['2 ^ -2', '0.25'],
      ['2 * -3', '-6'],
      ['--3', '3'],
      ['+4', '4'],
      ['17 % 5', '2'],
      ['-17 % 5', '-2'],
      ['7.5 % 2', '1.5'],
      ['2 + 3 * 4 ^ 2 % 5', '5'],
      ['0.1 + 0.2', '0.3'],
      ['.5 * 4', '2'],
      ['3.', '3'],
      ['1 / 3', '0.33333333333333333333'],
      ['2 / 3', '0.66666666666666666667'],
      ['-1 / 3', '-0.33333333333333333333'],
      ['1 / 7 * 7', '1'],
      ['2 ^ 64', '18446744073709551616'],
      ['1 / 2 ^ 10', '0.0009765625'],
      ['4 ^ 0.5', '2'],
      ['0 ^ 0', '1'],
      ['(-1) ^ 1000001', '-1'],
      [' ( 1 + ( 2 * ( 3 + 4 ) ) ) ', '15'],
    ])('%s = %s', async (expression, expected) => {
      expect(await calculate(expression)).toBe(expected)
    })

    it.each([
      ['1 / 0', /Division by zero/],
      ['5 % 0', /Division by zero/],
      ['0 ^ -1', /Division by zero/],
      ['1 / (2 - 2)', /Division by zero/],
      ['', /empty/],
      ['   ', /empty/],
      ['2 +', /Malformed expression '2 \+': it ends too early/],
      ['(1 + 2', /Malformed expression.*ends too early/],
      ['1 + 2)', /Malformed expression.*unexpected '\)' at position 6/],
      ['2 * * 3', /unexpected '\*'/],
      ['1.2.3', /unexpected '\.'/],
      ['.', /unexpected '\.'/],
      ['2(3)', /unexpected '\('/],
      ['abc', /unexpected 'a' at position 1/],
      ['Math.PI', /unexpected 'M'/],
      ['(-8) ^ 0.5', /not a real number/],
      ['7 ^ 1000000000', /too large/],
      ['(10 ^ 2000) * (10 ^ 2000)', /too large/],
    ])('%j throws %s', async (expression, message) => {
      await expect(calculate(expression)).rejects.toThrow(message)
    })

    it('refuses an expression past the length limit', async () => {
      await expect(calculate('1+'.repeat(600) + '1')).rejects.toThrow(/limit is 1000/)
    })
  })

  describe('current_time', () => {
    it('answers in the named zone', async () => {
      const currentTime = await tool('current_time')
      const before = Date.now()
      const answer = (await currentTime.run!({ timezone: 'Asia/Tokyo' }, runContext)) as Record<string, string>
      expect(Object.keys(answer).sort()).toEqual(['iso', 'local', 'timezone'])
      expect(answer.timezone).toBe('Asia/Tokyo')
      expect(Date.parse(answer.iso)).toBeGreaterThanOrEqual(before - 1000)
      expect(Date.parse(answer.iso)).toBeLessThanOrEqual(Date.now())
      expect(answer.local).toMatch(/GMT\+09:00$/)
      const tokyoDate = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Tokyo' }).format(new Date(answer.iso))
      const [year, month, day] = tokyoDate.split('-').map(Number)
      const monthName = new Date(Date.UTC(year, month - 1, 1)).toLocaleString('en-US', { month: 'long', timeZone: 'UTC' })
      expect(answer.local).toContain(`${monthName} ${day}, ${year}`)
    })

    it('defaults to the configured zone, then to UTC', async () => {
      const paris = (await (await tool('current_time', { timezone: 'Europe/Paris' })).run!({}, runContext)) as Record<string, string>
      expect(paris.timezone).toBe('Europe/Paris')
      const utc = (await (await tool('current_time')).run!({}, runContext)) as Record<string, string>
      expect(utc.timezone).toBe('UTC')
      expect(utc.local).toMatch(/ GMT(\+00:00)?$/)
    })

    it('throws a clear error for an unknown zone', async () => {
      const currentTime = await tool('current_time')
      expect(() => currentTime.run!({ timezone: 'Mars/Olympus_Mons' }, runContext)).toThrow(
        /Unknown time zone 'Mars\/Olympus_Mons'.*IANA/,
      )
    })

    it('fails setup when the configured zone is unknown', async () => {
      await expect(setup({ timezone: 'Nowhere/Atlantis' })).rejects.toThrow(/Unknown time zone 'Nowhere\/Atlantis'/)
    })
  })

  describe('beforeLlmCall', () => {
    async function hook(): Promise<(ctx: RequestContext, request: ModelRequest) => void | Promise<void>> {
      const spec = (await setup()).hooks?.beforeLlmCall
      if (!spec || typeof spec === 'function') throw new Error('expected a beforeLlmCall hook with a priority')
      return spec.fn
    }
    const ctx = {} as RequestContext

    it('appends the date to the leading system message, without editing the shared message object', async () => {
      const system = { role: 'system' as const, content: 'You are helpful.' }
      const request: ModelRequest = { model: 'echo', messages: [system, { role: 'user', content: 'hi' }], params: {} }
      await (await hook())(ctx, request)
      expect(request.messages).toEqual([
        { role: 'system', content: `You are helpful.\nCurrent date: ${today()} (UTC)` },
        { role: 'user', content: 'hi' },
      ])
      expect(system.content).toBe('You are helpful.')
    })

    it('adds the line once when the same request passes the hook again', async () => {
      const fn = await hook()
      const request: ModelRequest = { model: 'echo', messages: [{ role: 'system', content: 'Be brief.' }], params: {} }
      await fn(ctx, request)
      await fn(ctx, request)
      expect(request.messages[0].content).toBe(`Be brief.\nCurrent date: ${today()} (UTC)`)
    })

    it('inserts a system message when the first message is not one', async () => {
      const request: ModelRequest = { model: 'echo', messages: [{ role: 'user', content: 'hi' }], params: {} }
      await (await hook())(ctx, request)
      expect(request.messages).toEqual([
        { role: 'system', content: `Current date: ${today()} (UTC)` },
        { role: 'user', content: 'hi' },
      ])
    })

    it('appends a text part to a system message with array content', async () => {
      const request: ModelRequest = {
        model: 'echo',
        messages: [{ role: 'system', content: [{ type: 'text', text: 'Rules.' }] }],
        params: {},
      }
      await (await hook())(ctx, request)
      expect(request.messages[0].content).toEqual([
        { type: 'text', text: 'Rules.' },
        { type: 'text', text: `Current date: ${today()} (UTC)` },
      ])
    })
  })
})
