import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Param,
  ParseUUIDPipe,
  Post,
  Query,
  Res,
} from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBadRequestResponse,
  ApiConflictResponse,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiTags,
  ApiTooManyRequestsResponse,
} from '@nestjs/swagger';
import type { Response } from 'express';
import {
  CompareEvaluationsQueryDto,
  CreateEvaluationDto,
  ErrorResponseDto,
  EvaluationAcceptedDto,
  EvaluationDto,
  EvaluationSummaryDto,
  KeelError,
  type Comparison,
} from '@keel/contracts';
import { EvaluationsService, RunEvaluation } from '@keel/evaluation/module';
import { Ctx, type RequestContext } from '@keel/platform';

const evaluationId = new ParseUUIDPipe({
  exceptionFactory: () =>
    new KeelError('VALIDATION_FAILED', 'evaluation id must be a UUID', [
      { field: 'id', message: 'must be a UUID' },
    ]),
});

@ApiTags('evaluations')
@Controller('v1/evaluations')
export class EvaluationsController {
  constructor(
    private readonly run: RunEvaluation,
    private readonly evaluations: EvaluationsService,
  ) {}

  /** Runs a dataset through a pipeline configuration as an `eval` job; poll the location. */
  @Post()
  @HttpCode(202)
  @ApiAcceptedResponse({ type: EvaluationAcceptedDto })
  @ApiBadRequestResponse({
    type: ErrorResponseDto,
    description: 'VALIDATION_FAILED, DATASET_INVALID, METRIC_UNKNOWN',
  })
  @ApiNotFoundResponse({
    type: ErrorResponseDto,
    description: 'COLLECTION_NOT_FOUND, DATASET_NOT_FOUND',
  })
  @ApiTooManyRequestsResponse({ type: ErrorResponseDto, description: 'OVERLOADED' })
  async create(
    @Body() dto: CreateEvaluationDto,
    @Ctx() ctx: RequestContext,
    @Res({ passthrough: true }) res: Response,
  ): Promise<EvaluationAcceptedDto> {
    const accepted = await this.run.execute(dto, ctx);
    res.location(accepted.location);
    return accepted;
  }

  /** Finished evaluations, most recent first. */
  @Get()
  @ApiOkResponse({ type: [EvaluationSummaryDto] })
  list(): EvaluationSummaryDto[] {
    return this.evaluations.list(100);
  }

  @Get(':id')
  @ApiOkResponse({ type: EvaluationDto })
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'EVALUATION_NOT_FOUND' })
  get(@Param('id', evaluationId) id: string): Promise<EvaluationDto> {
    return this.evaluations.get(id);
  }

  /** Cancels a waiting or running evaluation: its job stops and no report is recorded. */
  @Delete(':id')
  @HttpCode(204)
  @ApiNoContentResponse()
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'EVALUATION_NOT_FOUND' })
  cancel(@Param('id', evaluationId) id: string): Promise<void> {
    return this.evaluations.cancel(id);
  }

  /**
   * `other` (B) against `:id` (A), paired by query: per-metric deltas with a paired randomization
   * test and a paired t-test, and the queries that changed most.
   */
  @Get(':id/compare/:other')
  @ApiOkResponse({ schema: { type: 'object', additionalProperties: true } })
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'EVALUATION_NOT_FOUND' })
  @ApiConflictResponse({ type: ErrorResponseDto, description: 'EVALUATION_NOT_READY' })
  compare(
    @Param('id', evaluationId) id: string,
    @Param('other', evaluationId) other: string,
    @Query() query: CompareEvaluationsQueryDto,
    @Ctx() ctx: RequestContext,
  ): Promise<Comparison> {
    return this.evaluations.compare(
      id,
      other,
      {
        ...(query.metric !== undefined ? { metric: query.metric } : {}),
        ...(query.alpha !== undefined ? { alpha: query.alpha } : {}),
      },
      ctx,
    );
  }
}
