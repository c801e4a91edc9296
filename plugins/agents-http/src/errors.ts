// The errors this plugin answers with. A portal that is down or failing is a plain error (the kernel answers 503
// RBT_ERR_AGENT_UNAVAILABLE and tries again on the next request); a portal answer that is not an agent of that
// name is that agent's configuration error, the kernel's documented RBT_ERR_AGENT_INVALID.
import { ERR_AGENT_INVALID, type RobutlerError } from '@robutler/kernel'

/** The portal answered 200 with something that cannot be the agent asked for. */
export function portalAgentInvalid(name: string, url: string, problem: string): RobutlerError {
  return ERR_AGENT_INVALID(name, `GET ${url} ${problem}`)
}

/**
 * The portal could not be asked, or answered with a failure: a plain error the kernel maps to 503. It carries no
 * cause: a fetch error's cause is the request, whose headers hold the portal token.
 */
export function portalFailed(url: string, problem: string): Error {
  return new Error(`GET ${url} ${problem}`)
}
