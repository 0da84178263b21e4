import { Module } from '@nestjs/common';
import { KEEL_CONFIG, type KeelConfig } from '@keel/platform';
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
      inject: [KEEL_CONFIG],
      useFactory: (config: KeelConfig): ChatClient | undefined =>
        config.llm ? createChatClient(config.llm) : undefined,
    },
  ],
  exports: [CHAT_CLIENT],
})
export class InferenceModule {}
