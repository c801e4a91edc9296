// @robutler/skill-basics: exact arithmetic and the current time, plus today's date for the model.
import { defineSkill } from '@robutler/kernel'
import { addCurrentDate } from './current-date.js'
import { Clock } from './current-time.js'
import { calculateTool, currentTimeTool } from './tools.js'

export interface BasicsConfig {
  /** The IANA time zone `current_time` answers in when the model names none (default `UTC`). */
  timezone?: string
}

const PROMPT =
  'You can use the tool calculate for exact arithmetic and the tool current_time for the current date and time in any ' +
  'time zone; use them rather than computing or guessing.'

export default defineSkill<BasicsConfig>({
  name: 'basics',
  setup(config) {
    const clock = new Clock()
    const timeZone = config?.timezone ?? 'UTC'
    // An unknown zone in the config fails the agent's setup, not the first call.
    clock.formatter(timeZone)
    return {
      tools: [calculateTool(), currentTimeTool(clock, timeZone)],
      hooks: { beforeLlmCall: { priority: 50, fn: addCurrentDate } },
      prompts: [{ priority: 50, text: PROMPT }],
    }
  },
})

export { evaluate } from './calculate.js'
export type { CurrentTime } from './current-time.js'
