import type {
  CollectionDto,
  Comparison,
  CreateEvaluationDto,
  EvaluationAcceptedDto,
  EvaluationDto,
  CreateCollectionDto,
  DocumentInputDto,
  ErrorResponseDto,
  IngestResultDto,
  QueryRequestDto,
  QueryResponseDto,
  RetrieveRequestDto,
  RetrieveResponseDto,
} from '@keel/contracts';

export class KeelApiError extends Error {
  override readonly name = 'KeelApiError';

  constructor(
    readonly status: number,
    readonly body: Partial<ErrorResponseDto>,
  ) {
    super(`${status} ${body.code ?? 'ERROR'}: ${body.message ?? 'request failed'}`);
  }
}

/** A typed client of Keel's REST API; every call has a deadline. */
export class KeelClient {
  constructor(
    readonly baseUrl: string,
    private readonly timeoutMs = 120_000,
  ) {}

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(new URL(path, this.baseUrl), {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    const text = await res.text();
    const parsed: unknown = text === '' ? undefined : JSON.parse(text);
    if (!res.ok) throw new KeelApiError(res.status, parsed ?? {});
    return parsed as T;
  }

  async isReady(): Promise<boolean> {
    try {
      const res = await fetch(new URL('/health/ready', this.baseUrl), {
        signal: AbortSignal.timeout(2_000),
      });
      await res.body?.cancel();
      return res.ok;
    } catch {
      return false;
    }
  }

  getCollection(name: string): Promise<CollectionDto> {
    return this.call('GET', `/v1/collections/${encodeURIComponent(name)}`);
  }

  createCollection(dto: CreateCollectionDto): Promise<CollectionDto> {
    return this.call('POST', '/v1/collections', dto);
  }

  /** Returns the collection, creating it with these settings when it does not exist. */
  async ensureCollection(dto: CreateCollectionDto): Promise<CollectionDto> {
    try {
      return await this.getCollection(dto.name);
    } catch (error) {
      if (error instanceof KeelApiError && error.body.code === 'COLLECTION_NOT_FOUND') {
        return this.createCollection(dto);
      }
      throw error;
    }
  }

  ingest(collection: string, documents: DocumentInputDto[]): Promise<IngestResultDto> {
    return this.call(
      'POST',
      `/v1/collections/${encodeURIComponent(collection)}/documents?wait=true`,
      {
        documents,
      },
    );
  }

  retrieve(request: RetrieveRequestDto): Promise<RetrieveResponseDto> {
    return this.call('POST', '/v1/retrieve', request);
  }

  query(request: QueryRequestDto): Promise<QueryResponseDto> {
    return this.call('POST', '/v1/query', request);
  }

  createEvaluation(dto: CreateEvaluationDto): Promise<EvaluationAcceptedDto> {
    return this.call('POST', '/v1/evaluations', dto);
  }

  getEvaluation(id: string): Promise<EvaluationDto> {
    return this.call('GET', `/v1/evaluations/${encodeURIComponent(id)}`);
  }

  cancelEvaluation(id: string): Promise<void> {
    return this.call('DELETE', `/v1/evaluations/${encodeURIComponent(id)}`);
  }

  compareEvaluations(a: string, b: string, metric?: string): Promise<Comparison> {
    const query = metric ? `?metric=${encodeURIComponent(metric)}` : '';
    return this.call(
      'GET',
      `/v1/evaluations/${encodeURIComponent(a)}/compare/${encodeURIComponent(b)}${query}`,
    );
  }
}
