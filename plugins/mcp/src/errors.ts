// Every error plugin-mcp answers with over HTTP, made with the kernel's factory (answered OpenAI-shaped). Errors
// inside the protocol are JSON-RPC errors or tool results with isError, as MCP says.
import { createError } from '@robutler/kernel'

export const ERR_MCP_METHOD_NOT_ALLOWED = createError(
  'RBT_ERR_MCP_METHOD_NOT_ALLOWED',
  'This MCP endpoint is stateless: POST JSON-RPC messages to it; it offers no %s',
  405,
  'invalid_request_error',
)

export const ERR_MCP_ORIGIN_FORBIDDEN = createError(
  'RBT_ERR_MCP_ORIGIN_FORBIDDEN',
  "Origin '%s' may not call this MCP endpoint (plugin-mcp allowedOrigins)",
  403,
  'permission_error',
)
