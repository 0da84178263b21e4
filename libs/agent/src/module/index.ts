// The Nest face of the agent lib; `@keel/agent` itself stays Nest-free apart from the runs service.
export { AgentModule, AGENT_PARTS } from './agent.module.js';
export { ToolsService } from './tools.service.js';
