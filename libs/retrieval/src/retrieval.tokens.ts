/** The API thread's read connection to the embedded store (reads never wait on writers in WAL). */
export const STORE_READER = Symbol('STORE_READER');
/**
 * The embedding server's query path (an `EmbedFunction`), provided when EMBEDDINGS_URL is set;
 * absent, dense and hybrid retrieval answer 400 DENSE_UNAVAILABLE.
 */
export const QUERY_EMBEDDER = Symbol('QUERY_EMBEDDER');
/** The process's EmbeddingClient (`@keel/inference`), when EMBEDDINGS_URL is set. */
export const EMBEDDING_CLIENT = Symbol('EMBEDDING_CLIENT');
/** The OpenSearch backend (`OpenSearchBackend`), when OPENSEARCH_URL is set. */
export const OPENSEARCH = Symbol('OPENSEARCH');
