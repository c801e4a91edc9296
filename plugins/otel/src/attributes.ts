// Attribute names: OpenTelemetry's (stable HTTP ones, and the GenAI conventions, which are in development) and the
// few of Robutler's own, under `robutler.`.
export {
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_SERVICE_NAME,
  ATTR_URL_PATH,
} from '@opentelemetry/semantic-conventions'
export {
  ATTR_GEN_AI_AGENT_NAME,
  ATTR_GEN_AI_INPUT_MESSAGES,
  ATTR_GEN_AI_OPERATION_NAME,
  ATTR_GEN_AI_OUTPUT_MESSAGES,
  ATTR_GEN_AI_PROVIDER_NAME,
  ATTR_GEN_AI_REQUEST_FREQUENCY_PENALTY,
  ATTR_GEN_AI_REQUEST_MAX_TOKENS,
  ATTR_GEN_AI_REQUEST_MODEL,
  ATTR_GEN_AI_REQUEST_PRESENCE_PENALTY,
  ATTR_GEN_AI_REQUEST_SEED,
  ATTR_GEN_AI_REQUEST_STOP_SEQUENCES,
  ATTR_GEN_AI_REQUEST_STREAM,
  ATTR_GEN_AI_REQUEST_TEMPERATURE,
  ATTR_GEN_AI_REQUEST_TOP_K,
  ATTR_GEN_AI_REQUEST_TOP_P,
  ATTR_GEN_AI_RESPONSE_FINISH_REASONS,
  ATTR_GEN_AI_RESPONSE_MODEL,
  ATTR_GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK,
  ATTR_GEN_AI_SYSTEM_INSTRUCTIONS,
  ATTR_GEN_AI_TOOL_CALL_ARGUMENTS,
  ATTR_GEN_AI_TOOL_CALL_ID,
  ATTR_GEN_AI_TOOL_CALL_RESULT,
  ATTR_GEN_AI_TOOL_NAME,
  ATTR_GEN_AI_TOOL_TYPE,
  ATTR_GEN_AI_USAGE_INPUT_TOKENS,
  ATTR_GEN_AI_USAGE_OUTPUT_TOKENS,
  ATTR_USER_ID,
} from '@opentelemetry/semantic-conventions/incubating'

/** The server's id of the request (the x-request-id it answers with). */
export const ATTR_ROBUTLER_REQUEST_ID = 'robutler.request_id'
/** The protocol surface that serves the request: chat_completions, responses, messages, mcp. */
export const ATTR_ROBUTLER_SURFACE = 'robutler.surface'
/** Which target of the agent a model call tried: 0 its model, 1 its first fallback, … */
export const ATTR_ROBUTLER_FALLBACK = 'robutler.model.fallback'
/** Which try of that target: 0 the first, 1 the first retry, … */
export const ATTR_ROBUTLER_ATTEMPT = 'robutler.model.attempt'
/** The skill package that gave the tool. */
export const ATTR_ROBUTLER_SKILL = 'robutler.skill'
/** Where the tool ran: inline (in process), worker (the pool) or mcp (a remote MCP server). */
export const ATTR_ROBUTLER_TOOL_KIND = 'robutler.tool.kind'
/** The tool call's outcome as the kernel counts it: ok, error, invalid, refused. */
export const ATTR_ROBUTLER_TOOL_STATUS = 'robutler.tool.status'
