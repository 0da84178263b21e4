import { Body, Controller, HttpCode, Post, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import {
  ApiBadRequestResponse,
  ApiGatewayTimeoutResponse,
  ApiNotFoundResponse,
  ApiBadGatewayResponse,
  ApiBody,
  ApiOkResponse,
  ApiExtraModels,
  ApiServiceUnavailableResponse,
  ApiTags,
  ApiTooManyRequestsResponse,
  getSchemaPath,
} from '@nestjs/swagger';
import {
  ErrorResponseDto,
  PackRequestDto,
  PackResponseDto,
  QueryRequestDto,
  QueryResponseDto,
  type QueryStreamEvent,
  RerankRequestDto,
  RerankResponseDto,
  RetrieveRequestDto,
  RetrieveResponseDto,
} from '@keel/contracts';
import { Ctx, type RequestContext } from '@keel/platform';
import { AnswerQuery, PackService, RerankService } from '@keel/pipeline';
import { RetrievalService } from '@keel/retrieval';
import { BodyDecoder } from '../body/body-decoder.js';
import { sendEventStream, wantsEventStream, type SseEvent } from '../http/event-stream.js';

@ApiTags('query')
@ApiBadRequestResponse({ type: ErrorResponseDto })
@ApiTooManyRequestsResponse({ type: ErrorResponseDto, description: 'OVERLOADED, with Retry-After' })
@ApiGatewayTimeoutResponse({ type: ErrorResponseDto, description: 'DEADLINE_EXCEEDED' })
@Controller('v1')
export class QueryController {
  constructor(
    private readonly retrieval: RetrievalService,
    private readonly reranker: RerankService,
    private readonly packer: PackService,
    private readonly answer: AnswerQuery,
    private readonly bodies: BodyDecoder,
  ) {}

  @Post('retrieve')
  @HttpCode(200)
  @ApiOkResponse({ type: RetrieveResponseDto })
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'COLLECTION_NOT_FOUND' })
  async retrieve(
    @Body() dto: RetrieveRequestDto,
    @Ctx() ctx: RequestContext,
  ): Promise<RetrieveResponseDto> {
    return (await this.retrieval.retrieve(dto, ctx)).response;
  }

  /** The body arrives as bytes and is decoded on the body thread (see BodyDecoder). */
  @Post('rerank')
  @HttpCode(200)
  @ApiBody({ type: RerankRequestDto })
  @ApiOkResponse({ type: RerankResponseDto })
  async rerank(@Body() body: unknown, @Ctx() ctx: RequestContext): Promise<RerankResponseDto> {
    return this.reranker.handle(await this.bodies.decode(RerankRequestDto, body), ctx);
  }

  /** The body arrives as bytes and is decoded on the body thread (see BodyDecoder). */
  @Post('pack')
  @HttpCode(200)
  @ApiBody({ type: PackRequestDto })
  @ApiOkResponse({ type: PackResponseDto })
  async pack(@Body() body: unknown, @Ctx() ctx: RequestContext): Promise<PackResponseDto> {
    return this.packer.handle(await this.bodies.decode(PackRequestDto, body), ctx);
  }

  /**
   * JSON by default; with `Accept: text/event-stream`, Server-Sent Events: `contexts`, `delta`s of
   * the answer, then `done` with the JSON body (or `error` with `{ code, message, requestId }`).
   * The response is written here (`@Res()`) because Nest has no POST event stream; the JSON path
   * writes exactly what Nest would.
   */
  @Post('query')
  @HttpCode(200)
  @ApiExtraModels(QueryResponseDto)
  @ApiOkResponse({
    description:
      'application/json: the answer. text/event-stream (when the request accepts it): events `contexts` ({ contexts }), `delta` ({ text }), then `done` (the JSON answer) or `error` ({ code, message, requestId }). Errors before the first event are JSON with their status.',
    content: {
      'application/json': { schema: { $ref: getSchemaPath(QueryResponseDto) } },
      'text/event-stream': {
        schema: { type: 'string' },
        example:
          'event: contexts\ndata: {"contexts":[…]}\n\nevent: delta\ndata: {"text":"Keel reads"}\n\nevent: done\ndata: {"answer":"…","mode":"generated",…}\n\n',
      },
    },
  })
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'COLLECTION_NOT_FOUND' })
  @ApiBadGatewayResponse({ type: ErrorResponseDto, description: 'LLM_REJECTED, LLM_INVALID' })
  @ApiServiceUnavailableResponse({ type: ErrorResponseDto, description: 'LLM_UNAVAILABLE' })
  async query(
    @Body() dto: QueryRequestDto,
    @Ctx() ctx: RequestContext,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    if (wantsEventStream(req)) {
      await sendEventStream(
        res,
        queryEvents(this.answer.stream(dto, ctx)),
        ctx.requestId,
        ctx.signal,
      );
      return;
    }
    res.status(200).json(await this.answer.execute(dto, ctx));
  }
}

async function* queryEvents(events: AsyncIterable<QueryStreamEvent>): AsyncGenerator<SseEvent> {
  for await (const e of events) {
    if (e.type === 'contexts') yield { event: 'contexts', data: { contexts: e.contexts } };
    else if (e.type === 'delta') yield { event: 'delta', data: { text: e.text } };
    else yield { event: 'done', data: e.response };
  }
}
