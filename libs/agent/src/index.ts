// Agent tool dispatch (DESIGN.md §3): tool registry, dispatch, and the agent loop.
export type * from './tool-types.js';
export type * from './runs/types.js';
export { AgentRunsService, toRunDto, AGENT_DEFAULTS, type ToolCatalog, type CancelBus } from './service/agent-runs.service.js';
export { runAgentLoop, nextState, rebuildMessages, AGENT_SYSTEM_PROMPT } from './loop/agent-loop.js';
export { SqliteRunStore } from './runs/sqlite-run-store.js';
export { RedisRunStore } from './runs/redis-run-store.js';
