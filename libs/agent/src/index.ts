// Agent tool dispatch (DESIGN.md §3): tool registry, dispatch, and the agent loop.
export type * from './tool-types.js';
export type * from './runs/types.js';
export {
  AgentRunsService,
  toRunDto,
  toRunSummaryDto,
  AGENT_DEFAULTS,
  type ToolCatalog,
  type CancelBus,
} from './service/agent-runs.service.js';
export {
  runAgentLoop,
  nextState,
  rebuildMessages,
  AGENT_SYSTEM_PROMPT,
} from './loop/agent-loop.js';
export { SqliteRunStore } from './runs/sqlite-run-store.js';
export { RedisRunStore } from './runs/redis-run-store.js';
export { ToolError, toToolError } from './tool-error.js';
export { ToolRegistry, TOOL_NAME, describeTool } from './registry.js';
export type { RegisteredTool } from './registry.js';
export { ToolDispatcher } from './dispatcher.js';
export type { ToolDispatcherOptions } from './dispatcher.js';
export { toolMetrics } from './metrics.js';
export type { ToolMetrics } from './metrics.js';
export { DEFAULT_TOOL_LIMITS } from './limits.js';
export type { ToolDefaults } from './limits.js';
export { EgressPolicy, parseAllowedHosts } from './egress.js';
export type { EgressRules } from './egress.js';
export { GuardedHttp, MAX_REDIRECTS } from './http-request.js';
export {
  createHttpTool,
  parseHttpToolDeclaration,
  REDACTED_HEADER,
  shownHttp,
} from './http-tool.js';
export type {
  HeaderValue,
  HttpMethod,
  HttpTool,
  HttpToolContext,
  HttpToolDeclaration,
  ShownHttp,
} from './http-tool.js';
export { envSecrets, SECRET_ENV_PREFIX } from './secrets.js';
export type { SecretSource } from './secrets.js';
// McpServerConnection is not exported here: importing this index must not load the MCP SDK.
export type {
  McpConnectOptions,
  McpHttpDeclaration,
  McpServerDeclaration,
  McpStdioDeclaration,
} from './mcp.js';
export { loadToolsFile, parseToolsFile, registerToolsFile } from './tools-file.js';
export type { ConfiguredTools, ToolsFile } from './tools-file.js';
export { fetchDocumentTool, searchCollectionTool } from './builtin.js';
export type { FetchDocumentArgs, SearchCollectionArgs } from './builtin.js';
export { renderToolOutcome } from './render.js';
