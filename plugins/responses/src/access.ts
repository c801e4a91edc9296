// Who may see a stored response or conversation: the identity that made it (anonymous callers share the anonymous
// owner), or an admin of its agent. Anyone else gets the same 404 as for an id that does not exist.
import type { Identity, SurfaceCall } from '@robutler/kernel'

/** The owner a caller's objects are stored under. */
export function ownerOf(identity: Identity | null): string | null {
  return identity?.userId ?? null
}

/** True when the caller made it, or (for a response) is an admin of its agent. */
export async function mayRead(call: SurfaceCall, owner: string | null, agent: string | null): Promise<boolean> {
  if (ownerOf(call.identity) === owner) return true
  if (agent === null || call.identity === null) return false
  try {
    const session = await call.open(agent)
    return session.context.scope === 'admin'
  } catch {
    // Not admitted to the agent at all (gone, out of scope): certainly not its admin.
    return false
  }
}
