// @robutler/skill-auth (Robutler V2's AuthSkill), per agent: require an authenticated caller, and give the agent's
// owner `owner` scope and its admins `admin` scope. The kernel enforces all of it — 401/403, tools, prompts and
// routes filtered by scope, tool scopes re-checked when they run — from the `access` this skill declares.
import { defineSkill } from '@robutler/kernel'

export interface AuthSkillConfig {
  /** Callers need an identity (an API key an authenticator accepts); default true. */
  required?: boolean
  /** The user id with `owner` scope on the agent; default the agent's `owner`. */
  owner?: string
  /** User ids with `admin` scope on the agent; default none. */
  admins?: string[]
}

/**
 * @example
 * // robutler.config.json
 * { "agents": [{ "name": "support", "model": "openai/gpt-4o", "owner": "alice",
 *                "skills": { "@robutler/skill-auth": { "admins": ["ops-team"] } } }] }
 */
export default defineSkill<AuthSkillConfig>({
  name: 'auth',
  setup(config) {
    const owner = config?.owner
    return {
      access: {
        required: config?.required ?? true,
        // Unset: the kernel keeps the agent's own `owner`.
        ...(owner ? { owner } : {}),
        admins: [...(config?.admins ?? [])],
      },
    }
  },
})
