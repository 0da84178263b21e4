/** Bounds shared by DTO validation, the CLI and the load generator. */
export const COLLECTION_NAME_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/;
export const DOCUMENT_ID_MAX_CHARS = 256;
export const TITLE_MAX_CHARS = 2_000;
/** Per document; the request body limit (KEEL_BODY_LIMIT_BYTES) bounds a whole batch. */
export const DOCUMENT_TEXT_MAX_CHARS = 2_000_000;
export const QUERY_MAX_CHARS = 16_384;
export const TOP_K_MAX = 1_000;
export const BATCH_MAX_DOCUMENTS = 1_000;
export const METADATA_MAX_KEYS = 64;
export const METADATA_KEY_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;
export const METADATA_VALUE_MAX_CHARS = 1_000;
export const CHUNK_SIZE_MIN = 16;
export const CHUNK_SIZE_MAX = 8_192;
export const BUDGET_TOKENS_MIN = 16;
export const BUDGET_TOKENS_MAX = 1_000_000;
export const PASSAGES_MAX = 1_000;
export const TEMPLATE_MAX_CHARS = 20_000;

export const ENCODINGS = ['o200k_base', 'cl100k_base'] as const;
export type EncodingName = (typeof ENCODINGS)[number];

export const DEFAULT_CHUNK_SIZE = 512;
export const DEFAULT_CHUNK_OVERLAP = 64;
export const DEFAULT_ENCODING: EncodingName = 'o200k_base';

export const BACKENDS = ['sqlite', 'opensearch'] as const;
export type BackendName = (typeof BACKENDS)[number];

export const RETRIEVAL_MODES = ['bm25', 'dense', 'hybrid'] as const;
export type RetrievalMode = (typeof RETRIEVAL_MODES)[number];

export const RERANK_METHOD_NAMES = ['keel', 'bm25', 'proximity', 'title', 'mmr', 'none'] as const;
export type RerankMethodName = (typeof RERANK_METHOD_NAMES)[number];

export type MetadataValue = string | number | boolean;
export type Metadata = Record<string, MetadataValue>;
