export { chunkText, MAX_RUN_CHARS, MIN_CHUNK_SIZE } from './chunker.js';
export type { Chunk, ChunkOptions } from './chunker.js';
