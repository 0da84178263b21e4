import type { EmbedFunction } from '@keel/contracts/jobs';
import type { EmbeddingClient } from './types.js';

/**
 * The name a collection records for its vectors: the configured model, or for a TEI server that
 * was given none, the protocol (TEI serves one model and ignores the name).
 */
export function embeddingModelName(client: Pick<EmbeddingClient, 'model' | 'protocol'>): string {
  return client.model !== '' ? client.model : client.protocol;
}

/** The client as the jobs and the retriever call it: vectors, with the model they came from. */
export function toEmbedFunction(client: EmbeddingClient): EmbedFunction {
  const model = embeddingModelName(client);
  return async (texts, options) => ({ model, vectors: await client.embed(texts, options) });
}
