// The one error of the mapping: input that one side cannot express, a 400 naming the field.
import { ERR_INVALID_REQUEST, type RobutlerError } from '@robutler/kernel'

/** Names the field of a failure: `messages[2].content[0].type`; the caller's prefix (`anthropic: `) goes first. */
export type Invalid = (message: string, param: string) => RobutlerError

/**
 * Makes the 400 factory of one side of the mapping: `prefix` starts each message (the provider says
 * `anthropic: `, the surface nothing).
 */
export function invalidWith(prefix: string): Invalid {
  return (message, param) => {
    const error = ERR_INVALID_REQUEST(`${prefix}${message}`)
    error.param = param
    return error
  }
}
