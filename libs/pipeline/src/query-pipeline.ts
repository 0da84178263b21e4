import { Inject, Injectable, Optional } from '@nestjs/common';
import type {
  ContextPassageDto,
  PackResult,
  QueryRequestDto,
  QueryResponseDto,
  QueryStreamEvent,
} from '@keel/contracts';
import type { ChatClient, ChatCompletion, ChatMessage, ChatStreamEvent } from '@keel/inference';
import { CHAT_CLIENT } from '@keel/inference/module';
import { JobRunner } from '@keel/jobs';
import { ANSWER_SYSTEM_PROMPT, checkCitations } from '@keel/packing';
import type { RequestContext } from '@keel/platform';
import { CollectionsService, RetrievalService, round, type Collection } from '@keel/retrieval';
import { packAnswer, QUERY_DEFAULTS, rankPassages, type PipelineSteps } from './core.js';

/** The steps over one collection as jobs and calls, under one request's deadline and signal. */
export function jobSteps(
  jobs: JobRunner,
  retrieval: RetrievalService,
  collection: Collection,
  ctx: RequestContext,
): PipelineSteps {
  return {
    retrieve: (spec) => retrieval.run(collection, spec, ctx),
    rerank: (payload) => jobs.run('rerank', 'rerank', payload, ctx),
    pack: (payload) => jobs.run('pack', 'pack', payload, ctx),
  };
}

/** Everything up to the answer: the packed prompt and what the response says about it. */
interface Prepared {
  started: number;
  packed: PackResult;
  /** The LLM answers (configured, asked for, and there is context to answer from). */
  generate: boolean;
  contexts: ContextPassageDto[];
  base: Pick<QueryResponseDto, 'degraded' | 'failedLegs'>;
  timings: { retrieve: number; rerank: number; pack: number };
}

/**
 * The whole query path, one use case (STYLE.md #14): retrieve → rerank → pack → answer. Each CPU
 * step is a job, so the API thread only moves data between them. With an LLM configured the
 * answer is generated from the packed passages (the call is IO, so it runs here, on the API
 * event loop, under the request's deadline and signal) and its citations are checked against
 * them; without one it is extractive: the best sentences of the packed context, with their
 * citation markers.
 *
 * An LLM failure fails the request with its LLM_* code rather than falling back to the extractive
 * answer: a client that asked for a generated answer would otherwise get a different kind of
 * answer with a 200, and an LLM outage would hide behind it (`generate: false` asks for the
 * extractive answer explicitly).
 */
@Injectable()
export class AnswerQuery {
  constructor(
    private readonly collections: CollectionsService,
    private readonly retrieval: RetrievalService,
    private readonly jobs: JobRunner,
    @Optional() @Inject(CHAT_CLIENT) private readonly chat?: ChatClient,
  ) {}

  async execute(dto: QueryRequestDto, ctx: RequestContext): Promise<QueryResponseDto> {
    const prepared = await this.#prepare(dto, ctx);
    if (!prepared.generate) return extractive(prepared);
    const asked = performance.now();
    const completion = await this.chat!.complete(
      { messages: answerMessages(prepared.packed) },
      { signal: ctx.signal, deadline: ctx.deadline },
    );
    return generated(prepared, completion, performance.now() - asked);
  }

  /**
   * The same answer as events: `contexts`, `delta`s, `done`. The LLM stream is opened (its retries
   * done, its first byte in) before the first event, so a failure to reach the LLM still fails
   * the request with its status rather than inside a stream already answered 200.
   */
  async *stream(dto: QueryRequestDto, ctx: RequestContext): AsyncGenerator<QueryStreamEvent> {
    const prepared = await this.#prepare(dto, ctx);
    if (!prepared.generate) {
      const response = extractive(prepared);
      yield { type: 'contexts', contexts: response.contexts };
      if (response.answer) yield { type: 'delta', text: response.answer };
      yield { type: 'done', response };
      return;
    }
    const asked = performance.now();
    const events = this.chat!.stream(
      { messages: answerMessages(prepared.packed) },
      { signal: ctx.signal, deadline: ctx.deadline },
    )[Symbol.asyncIterator]();
    try {
      let next: IteratorResult<ChatStreamEvent> = await events.next();
      yield { type: 'contexts', contexts: prepared.contexts };
      for (; !next.done; next = await events.next()) {
        const event = next.value;
        if (event.type === 'delta') {
          yield { type: 'delta', text: event.text };
        } else {
          yield {
            type: 'done',
            response: generated(prepared, event.completion, performance.now() - asked),
          };
        }
      }
    } finally {
      // The consumer went away early: close the LLM stream too (it hangs up on the server).
      await events.return?.();
    }
  }

  async #prepare(dto: QueryRequestDto, ctx: RequestContext): Promise<Prepared> {
    const started = performance.now();
    const mode = dto.mode ?? 'bm25';
    const collection = await this.collections.require(dto.collection, ctx);
    this.retrieval.checkMode(collection, mode);
    const steps = jobSteps(this.jobs, this.retrieval, collection, ctx);
    const { ranked, hits, timings, retrieval } = await rankPassages(steps, {
      mode,
      query: dto.query,
      topK: dto.topK ?? QUERY_DEFAULTS.topK,
      group: dto.groupByDocument === false ? 'chunk' : 'document',
      ...(dto.filter ? { filter: dto.filter } : {}),
      rerank: dto.rerank ?? QUERY_DEFAULTS.rerank,
      keep: dto.contextTopK ?? QUERY_DEFAULTS.contextTopK,
    });
    const afterRerank = performance.now();
    const wantsLlm = this.chat !== undefined && dto.generate !== false;
    const packed = await packAnswer(steps, {
      query: dto.query,
      ranked,
      budgetTokens: dto.budgetTokens ?? QUERY_DEFAULTS.budgetTokens,
      encoding: dto.encoding ?? QUERY_DEFAULTS.encoding,
      // Nothing retrieved: there is nothing to generate from, and the extractive "not found"
      // answer says so without a model call.
      extractive: !wantsLlm || ranked.length === 0,
    });
    const scoreOf = new Map(ranked.map(({ hit, score }) => [hit.id, score]));
    return {
      started,
      packed,
      generate: wantsLlm && packed.included.length > 0,
      contexts: packed.included.map((p) => {
        const hit = hits.get(p.id)!;
        return {
          marker: p.marker,
          id: p.id,
          documentId: hit.documentId,
          ...(hit.title !== undefined ? { title: hit.title } : {}),
          text: p.text,
          score: scoreOf.get(p.id) ?? hit.score,
          truncated: p.truncated,
        };
      }),
      base: { degraded: retrieval.degraded, failedLegs: retrieval.failedLegs },
      timings: {
        retrieve: timings.retrieve,
        rerank: timings.rerank,
        pack: performance.now() - afterRerank,
      },
    };
  }
}

/** The system prompt, then the packed prompt: the numbered passages and the question. */
function answerMessages(packed: PackResult): ChatMessage[] {
  return [
    { role: 'system', content: ANSWER_SYSTEM_PROMPT },
    { role: 'user', content: packed.prompt },
  ];
}

function extractive(prepared: Prepared): QueryResponseDto {
  const { packed } = prepared;
  const answer = packed.answer ?? { text: '', citations: [] };
  return {
    answer: answer.text,
    mode: 'extractive',
    citations: answer.citations,
    contexts: prepared.contexts,
    usage: { promptTokens: packed.tokens, completionTokens: 0 },
    ...prepared.base,
    timings: {
      retrieve: round(prepared.timings.retrieve),
      rerank: round(prepared.timings.rerank),
      pack: round(prepared.timings.pack),
      total: round(performance.now() - prepared.started),
    },
  };
}

function generated(
  prepared: Prepared,
  completion: ChatCompletion,
  generateMs: number,
): QueryResponseDto {
  const answer = completion.content ?? '';
  const { citations, unsupported } = checkCitations(answer, prepared.packed.citations);
  return {
    answer,
    mode: 'generated',
    citations,
    unsupportedCitations: unsupported,
    // Cut off by the token limit: said, not hidden. What was produced is still the answer.
    truncated: completion.finishReason === 'length',
    contexts: prepared.contexts,
    usage: {
      promptTokens: completion.usage.promptTokens,
      completionTokens: completion.usage.completionTokens,
      ...(completion.usage.estimated ? { estimated: true } : {}),
    },
    ...prepared.base,
    timings: {
      retrieve: round(prepared.timings.retrieve),
      rerank: round(prepared.timings.rerank),
      pack: round(prepared.timings.pack),
      generate: round(generateMs),
      total: round(performance.now() - prepared.started),
    },
  };
}
