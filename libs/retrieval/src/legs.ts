/**
 * Retrieval legs that are the same wherever they run: the query embedding with its model check,
 * and both legs of a collection on OpenSearch (plain I/O, from the API or from a job's thread).
 * The embedded store's legs differ by caller (search jobs from the API, processors in a thread)
 * and are built where they are used.
 */
import { KeelError, type EmbedFunction, type EmbeddingSpec } from '@keel/contracts/jobs';
import type { OpenSearchBackend } from './opensearch/opensearch-backend.js';
import type { LegRequest, RetrievalLegs } from './retriever.js';

/**
 * The query's vector from the embedding server, refused when the server now serves another
 * model than the one the collection's vectors came from (their similarities would be noise).
 */
export async function embedQuery(
  embed: EmbedFunction,
  embedding: EmbeddingSpec,
  collection: string,
  request: Pick<LegRequest, 'query' | 'signal' | 'deadline'>,
): Promise<number[]> {
  const { model, vectors } = await embed([request.query], {
    purpose: 'query',
    signal: request.signal,
    deadline: request.deadline,
  });
  if (model !== embedding.model) {
    throw new KeelError(
      'EMBEDDINGS_INVALID',
      `the embedding server serves '${model}'; collection '${collection}' was embedded with '${embedding.model}'`,
    );
  }
  return vectors[0];
}

/** BM25 and, when the collection has vectors and an embedder is at hand, k-NN on OpenSearch. */
export function openSearchLegs(
  os: OpenSearchBackend,
  collection: { name: string; embedding?: EmbeddingSpec },
  embed: EmbedFunction | undefined,
): RetrievalLegs {
  const search = (r: LegRequest) => ({
    topK: r.topK,
    group: r.group,
    ...(r.filter ? { filter: r.filter } : {}),
  });
  const embedding = collection.embedding;
  return {
    bm25: (r) =>
      os.bm25(
        collection.name,
        r.query,
        { ...search(r), withStats: r.withStats },
        { signal: r.signal, deadline: r.deadline },
      ),
    ...(embed && embedding
      ? {
          dense: async (r: LegRequest) =>
            os.knn(
              collection.name,
              await embedQuery(embed, embedding, collection.name, r),
              search(r),
              { signal: r.signal, deadline: r.deadline },
            ),
        }
      : {}),
  };
}
