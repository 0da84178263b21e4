// Clients of the model servers (DESIGN.md §1.6): Keel speaks their HTTP protocols and never runs
// a model itself. Nest-free, so the ingest job can embed inside a worker thread.
export { createEmbeddingClient } from './embedding-client.js';
export type {
  EmbedOptions,
  EmbeddingClient,
  EmbeddingClientConfig,
  EmbeddingProtocol,
  EmbeddingPurpose,
} from './types.js';
export { toEmbedFunction, embeddingModelName } from './embed-function.js';
export { createChatClient, chatEndpoint } from './chat-client.js';
export type * from './chat-types.js';
