import {
  IngestDocumentsDto,
  PackRequestDto,
  RerankRequestDto,
  type SerializedError,
} from '@keel/contracts';

/**
 * The DTOs whose bodies are decoded on the body thread, by a name both sides share: the requests
 * that carry their own texts (documents, candidates, passages), whose size the client decides.
 */
export const BODY_TYPES = { IngestDocumentsDto, RerankRequestDto, PackRequestDto } as const;
export type BodyTypeName = keyof typeof BODY_TYPES;

export interface BodyTask {
  type: BodyTypeName;
  /** The body as read; absent when the request had none. */
  bytes?: Uint8Array;
}

export interface BodyReply {
  /** The thread that decoded it (the main thread is 0). */
  threadId: number;
  /** Time the thread spent on it. */
  seconds: number;
  value?: unknown;
  error?: SerializedError;
}
