// The tool definitions of skill-basics: schemas, descriptions and examples around the evaluator and the clock.
import type { SkillTool } from '@robutler/kernel'
import { MAX_EXPRESSION_LENGTH, evaluate } from './calculate.js'
import type { Clock } from './current-time.js'

export function calculateTool(): SkillTool {
  return {
    name: 'calculate',
    description:
      'Evaluates an arithmetic expression exactly: + - * / % ^ (power, right-associative), parentheses, unary minus and ' +
      'decimals. Returns the number as a string; a result whose decimals do not end is rounded to 20 significant digits.',
    parameters: {
      type: 'object',
      properties: {
        expression: {
          type: 'string',
          description: 'The expression, e.g. "(1 + 2) * 3 / 4" or "2^10 % 7"',
          minLength: 1,
          maxLength: MAX_EXPRESSION_LENGTH,
        },
      },
      required: ['expression'],
      additionalProperties: false,
    },
    run: function calculate(args) {
      return evaluate(args.expression)
    },
    examples: [
      { arguments: { expression: '2 + 3 * 4' }, result: '14' },
      { arguments: { expression: '(1 + 2) / 4' }, result: '0.75' },
      { arguments: { expression: '0.1 + 0.2' }, result: '0.3' },
      { arguments: { expression: '2 ^ 3 ^ 2' }, result: '512' },
      { arguments: { expression: '-17 % 5' }, result: '-2' },
    ],
  }
}

export function currentTimeTool(clock: Clock, defaultTimeZone: string): SkillTool {
  return {
    name: 'current_time',
    description:
      'The current date and time: { iso (UTC, ISO 8601), timezone, local (weekday, date and time there with its UTC offset) }.',
    parameters: {
      type: 'object',
      properties: {
        timezone: {
          type: 'string',
          description: `An IANA time zone such as "Europe/Paris" or "America/New_York" (default "${defaultTimeZone}")`,
          minLength: 1,
        },
      },
      required: [],
      additionalProperties: false,
    },
    run: function currentTime(args) {
      return clock.at(args.timezone ?? defaultTimeZone)
    },
    examples: [{ arguments: {} }, { arguments: { timezone: 'Asia/Tokyo' } }],
  }
}
