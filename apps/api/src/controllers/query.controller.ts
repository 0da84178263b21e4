import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiGatewayTimeoutResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiTags,
  ApiTooManyRequestsResponse,
} from '@nestjs/swagger';
import {
  ErrorResponseDto,
  PackRequestDto,
  PackResponseDto,
  QueryRequestDto,
  QueryResponseDto,
  RerankRequestDto,
  RerankResponseDto,
  RetrieveRequestDto,
  RetrieveResponseDto,
} from '@keel/contracts';
import { Ctx, type RequestContext } from '@keel/platform';
import { AnswerQuery, PackService, RerankService } from '@keel/pipeline';
import { RetrievalService } from '@keel/retrieval';

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

  @Post('rerank')
  @HttpCode(200)
  @ApiOkResponse({ type: RerankResponseDto })
  rerank(@Body() dto: RerankRequestDto, @Ctx() ctx: RequestContext): Promise<RerankResponseDto> {
    return this.reranker.handle(dto, ctx);
  }

  @Post('pack')
  @HttpCode(200)
  @ApiOkResponse({ type: PackResponseDto })
  pack(@Body() dto: PackRequestDto, @Ctx() ctx: RequestContext): Promise<PackResponseDto> {
    return this.packer.handle(dto, ctx);
  }

  @Post('query')
  @HttpCode(200)
  @ApiOkResponse({ type: QueryResponseDto })
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'COLLECTION_NOT_FOUND' })
  query(@Body() dto: QueryRequestDto, @Ctx() ctx: RequestContext): Promise<QueryResponseDto> {
    return this.answer.execute(dto, ctx);
  }
}
