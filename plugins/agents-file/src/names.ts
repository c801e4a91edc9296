// Which file names the kernel can ever ask for. This mirrors DESIGN.md's agent-name rule, which the kernel checks
// before any loader runs but does not export: a file named otherwise is never served, so the plugin says so.
const AGENT_NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/
const RESERVED = new Set(['health', 'live', 'ready', 'info', 'agents', 'metrics'])

/** Why no request can reach agent `name`, or null when one can. */
export function unservableReason(name: string): string | null {
  if (RESERVED.has(name)) return `'${name}' is a route of its own`
  if (!AGENT_NAME.test(name)) return `agent names match ${AGENT_NAME}`
  return null
}
