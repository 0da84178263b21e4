import { Module } from '@nestjs/common';
import { KEEL_CONFIG, MetricsService, type KeelConfig } from '@keel/platform';
import { withChatMetrics } from '../chat-metrics.js';
import { createChatClient } from '../chat-client.js';
import type { ChatClient } from '../chat-types.js';

/**
 * The process's one chat client (`ChatClient`), or `undefined` when no LLM is configured: the
 * query path answers extractively then, and the agent loop refuses to run. Inject it with
 * `@Optional() @Inject(CHAT_CLIENT) chat?: ChatClient`.
 */
export const CHAT_CLIENT = Symbol('CHAT_CLIENT');

/**
 * The model-server clients as Nest providers. Kept apart from `@keel/inference`, which stays
 * Nest-free for worker threads; every module that imports this one shares the same client.
 */
@Module({
  providers: [
    {
      provide: CHAT_CLIENT,
      inject: [KEEL_CONFIG, MetricsService],
      useFactory: (config: KeelConfig, metrics: MetricsService): ChatClient | undefined =>
        config.llm ? withChatMetrics(createChatClient(config.llm), metrics.registry) : undefined,
    },
  ],
  exports: [CHAT_CLIENT],
})
export class InferenceModule {}
