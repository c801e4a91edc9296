// @robutler/kernel's public entry: everything plugins, skills and operators may import.
export { createServer, StartupError, KERNEL_VERSION } from './server.js'
export type { RobutlerServer } from './server.js'
export { definePlugin, defineSkill, defineAgent } from './define.js'
export type { Plugin, Skill } from './define.js'
export { getContext } from './context.js'
export { loadConfigFile, interpolate, configProblems, DEFAULT_CONFIG_FILES } from './config.js'
export type { ConfigFile, Environment, LoadedConfig } from './config.js'
export { parseConfigText } from './config-text.js'
export type { ConfigSource, JsonPath, ParsedConfigText } from './config-text.js'
export { optionsFromConfig, parseSize, resolveSettings } from './options.js'
export type { ServerOptions, Settings } from './options.js'
export { checkStartup, findPluginCommand } from './doctor.js'
export type { DoctorReport, FoundCommand } from './doctor.js'
export { HOOK_NAMES, SCOPES, TOOL_NAME, ROUTE_METHODS, skillPartsProblems } from './skill-rules.js'
export type { SkillPartProblem, SkillRuleOptions } from './skill-rules.js'
export { makeSkillApi } from './skill-api.js'
export type { SkillApiDeps } from './skill-api.js'
export { createLogger, flushLogger } from './logger.js'
export type { LoggerOptions } from './logger.js'
export { relayGathers } from './cluster-gather.js'
export { RobutlerError, createError, errorCatalogue, isRobutlerError, ERR_AGENT_INVALID, ERR_INVALID_REQUEST } from './errors.js'
export type { ErrorFactory, ErrorOptions, ErrorType } from './errors.js'
export { ProviderError, isProviderError, retryAfterMs } from './provider-errors.js'
export type { ProviderErrorOptions, ProviderFailureKind } from './provider-errors.js'
export { agentNameProblem, isAgentName, isModelString } from './config-schema.js'
export { DEFAULT_ALLOWED_PARAMS } from './param-policy.js'
export type { ParamPolicyConfig } from './param-policy.js'
export { createProviderFetch, nodeBody } from './provider-fetch.js'
export { describeConnection, describeConnectionError } from './connection-text.js'
export { describeDatabase, postgresMigration, postgresPoolOptions } from './postgres-options.js'
export type { PostgresPoolOptions, PostgresQueryable } from './postgres-options.js'
export { SseStream } from './sse.js'
export type { AgentEvent, AgentEventSink, AgentEventType, AgentInput, AgentResult } from './agent-events.js'
export type {
  AgentRouteHandler,
  AgentSession,
  AgentSummary,
  ErrorAnswer,
  ErrorRenderer,
  ServerRouteHandler,
  SurfaceCall,
  SurfaceDefinition,
  TokenCount,
} from './surface-types.js'
export type { RouteAgent, RouteConfig } from './surfaces.js'
export type { ProviderFetch } from './provider-fetch.js'
export type {
  AgentConfig,
  AgentDescription,
  AgentLister,
  AgentLoader,
  AgentLoadOptions,
  AgentLoaderOptions,
  AssistantMessage,
  AuthAnswer,
  Authenticator,
  CallOptions,
  ChatMessage,
  CommandContext,
  ContentPart,
  Credential,
  FinalizeInfo,
  FinishReason,
  HealthCheck,
  HeaderInjector,
  ToolKind,
  HookMap,
  HookName,
  HookSpec,
  Identity,
  IdentityBudget,
  JsonSchema,
  KernelApi,
  KernelEventMap,
  KernelEventName,
  KernelEvents,
  ModelDelta,
  ModelRequest,
  ModelResponse,
  PackageReport,
  PluginCommand,
  PluginDefinition,
  Provider,
  RequestContext,
  RunGate,
  SamplingParams,
  Scope,
  SkillAccess,
  SkillApi,
  SkillDefinition,
  SkillParts,
  SkillPrompt,
  SkillRoute,
  SkillTool,
  SkillToolSource,
  ToolCall,
  ToolCallDelta,
  ToolCallInfo,
  ToolDefinition,
  ToolExample,
  ToolResult,
  ToolRunContext,
  Usage,
} from './types.js'
