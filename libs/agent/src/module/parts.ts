import type { KeelConfig } from '@keel/platform';
import type { AgentRunStore } from '../runs/types.js';
import { SqliteRunStore } from '../runs/sqlite-run-store.js';
import { SqliteToolDeclarations, type ToolDeclarationStore } from '../runs/tool-declarations.js';
import type { CancelBus } from '../service/agent-runs.service.js';
import { LocalAgentQueue, type AgentQueue } from '../service/agent-queue.js';
import { LocalCancelBus } from '../service/cancel-bus.js';

/** Where runs and registered tools live and how async runs are queued, by mode. */
export interface AgentParts {
  store: AgentRunStore;
  declarations: ToolDeclarationStore;
  queue: AgentQueue;
  cancels: CancelBus;
  /** Embedded: this process is the only executor and resumes the last one's unfinished runs. */
  resumeOnStart: boolean;
  close(): Promise<void>;
}

/**
 * Either way, one process executes at most `config.agent.concurrency` async runs at once
 * (KEEL_AGENT_CONCURRENCY): they wait on model and tool servers, not on the CPU. In Kubernetes
 * the same number is the API ScaledObject's target, agent runs per pod.
 */
export async function agentParts(config: KeelConfig): Promise<AgentParts> {
  if (config.redisUrl) {
    const { distributedParts } = await import('./distributed.js');
    return distributedParts(config);
  }
  const store = SqliteRunStore.open(config.dataDir);
  return {
    store,
    declarations: SqliteToolDeclarations.open(config.dataDir),
    queue: new LocalAgentQueue(config.agent.concurrency),
    cancels: new LocalCancelBus(),
    resumeOnStart: true,
    close: () => store.close(),
  };
}
