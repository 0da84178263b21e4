import {
  Inject,
  Injectable,
  Logger,
  Module,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import type { ChatClient } from '@keel/inference';
import { CHAT_CLIENT, InferenceModule } from '@keel/inference/module';
import { KEEL_CONFIG, MetricsService, type KeelConfig } from '@keel/platform';
import {
  CollectionsService,
  DocumentsService,
  RetrievalModule,
  RetrievalService,
} from '@keel/retrieval';
import { ToolDispatcher } from '../dispatcher.js';
import { AgentRunsService } from '../service/agent-runs.service.js';
import { agentParts, type AgentParts } from './parts.js';
import { ToolsService } from './tools.service.js';

export const AGENT_PARTS = Symbol('AGENT_PARTS');

@Injectable()
class AgentLifecycle implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Agent');

  constructor(
    @Inject(AGENT_PARTS) private readonly parts: AgentParts,
    private readonly tools: ToolsService,
    private readonly runs: AgentRunsService,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.tools.start();
    await this.runs.start();
    this.logger.log(
      `agent tools: ${this.tools.registry
        .list()
        .map((t) => t.name)
        .join(', ')}`,
    );
  }

  async onApplicationShutdown(): Promise<void> {
    await this.runs.close();
    await this.tools.close();
    await this.parts.close();
  }
}

/** Tools, dispatch and agent runs (DESIGN.md §3 `agent/`). */
@Module({
  imports: [RetrievalModule, InferenceModule],
  providers: [
    {
      provide: AGENT_PARTS,
      inject: [KEEL_CONFIG],
      useFactory: (config: KeelConfig) => agentParts(config),
    },
    {
      provide: ToolsService,
      inject: [KEEL_CONFIG, AGENT_PARTS, RetrievalService, DocumentsService],
      useFactory: (
        config: KeelConfig,
        parts: AgentParts,
        retrieval: RetrievalService,
        documents: DocumentsService,
      ) => new ToolsService(config, parts.declarations, retrieval, documents),
    },
    {
      provide: ToolDispatcher,
      inject: [KEEL_CONFIG, ToolsService, MetricsService],
      useFactory: (config: KeelConfig, tools: ToolsService, metrics: MetricsService) =>
        new ToolDispatcher(tools.registry, {
          maxRetries: config.tools.dispatch.maxRetries,
          maxQueue: config.tools.dispatch.maxQueue,
          breakerFailures: config.tools.dispatch.breakerFailures,
          halfOpenAfterMs: config.tools.dispatch.halfOpenAfterMs,
          metrics: metrics.registry,
        }),
    },
    {
      provide: AgentRunsService,
      inject: [
        KEEL_CONFIG,
        AGENT_PARTS,
        CHAT_CLIENT,
        ToolsService,
        ToolDispatcher,
        CollectionsService,
      ],
      useFactory: (
        config: KeelConfig,
        parts: AgentParts,
        chat: ChatClient | undefined,
        tools: ToolsService,
        dispatch: ToolDispatcher,
        collections: CollectionsService,
      ) =>
        new AgentRunsService({
          store: parts.store,
          queue: parts.queue,
          cancels: parts.cancels,
          chat,
          tools: tools.registry,
          dispatch,
          resumeOnStart: parts.resumeOnStart,
          runLeaseMs: config.agent.runLeaseMs,
          beforeCreate: () => tools.sync(),
          requireCollection: (name, ctx) => collections.require(name, ctx),
        }),
    },
    AgentLifecycle,
  ],
  exports: [ToolsService, AgentRunsService],
})
export class AgentModule {}
