// The errors this plugin answers with. Both are the kernel's documented RBT_ERR_AGENT_INVALID: a bad agent file
// is that agent's configuration error, answered for that agent only (the kernel passes RobutlerErrors through).
import { ERR_AGENT_INVALID, type RobutlerError } from '@robutler/kernel'

/** The file's `name` field names another agent than its file name. */
export function nameMismatch(name: string, file: string, inside: unknown): RobutlerError {
  return ERR_AGENT_INVALID(name, `${file} has "name": ${JSON.stringify(inside)}; it must be '${name}' (the file name) or left out`)
}

/** The file is not a JSON object, or is not JSON and there is no earlier good version to keep serving. */
export function fileInvalid(name: string, file: string, problem: string): RobutlerError {
  return ERR_AGENT_INVALID(name, `${file}: ${problem}`)
}
