// Every error plugin-console answers with, made with the kernel's factory (answered OpenAI-shaped).
import { createError } from '@robutler/kernel'

export const ERR_CONSOLE_KEY_REQUIRED = createError(
  'RBT_ERR_CONSOLE_KEY_REQUIRED',
  'The console needs an admin key: send it as Authorization: Bearer <key>',
  401,
  'authentication_error',
)

export const ERR_CONSOLE_NOT_ADMIN = createError(
  'RBT_ERR_CONSOLE_NOT_ADMIN',
  'The console is for admins: this key has scope %s%s; it needs scope admin and no agent list',
  403,
  'permission_error',
)

export const ERR_CONSOLE_LOOPBACK_ONLY = createError(
  'RBT_ERR_CONSOLE_LOOPBACK_ONLY',
  'Without an authenticator the console is served to this machine only (127.0.0.1 or ::1), not to %s',
  403,
  'permission_error',
)

export const ERR_CONSOLE_NOT_FOUND = createError('RBT_ERR_CONSOLE_NOT_FOUND', 'The console has no %s', 404, 'invalid_request_error')
