import {
  Body,
  Controller,
  Delete,
  Get,
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
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiTags,
} from '@nestjs/swagger';
import type { Response } from 'express';
import {
  AgentRunDto,
  AgentRunListDto,
  AgentRunListQueryDto,
  CreateAgentRunDto,
  ErrorResponseDto,
  KeelError,
} from '@keel/contracts';
import { AgentRunsService, toRunDto, toRunSummaryDto } from '@keel/agent';
import { Ctx, type RequestContext } from '@keel/platform';

const runId = new ParseUUIDPipe({
  exceptionFactory: () =>
    new KeelError('VALIDATION_FAILED', 'run id must be a UUID', [
      { field: 'id', message: 'must be a UUID' },
    ]),
});

@ApiTags('agent')
@Controller('v1/agent/runs')
export class AgentController {
  constructor(private readonly runs: AgentRunsService) {}

  /**
   * Runs the agent loop. Synchronous by default: the answer comes with the run, every step in it,
   * and a run that ends without an answer (max steps, deadline, budget) is still 200 with its
   * `endReason` and `error`. `async: true` answers 202 at once; poll GET /v1/agent/runs/:id.
   */
  @Post()
  @ApiOkResponse({ type: AgentRunDto, description: 'a synchronous run, ended' })
  @ApiAcceptedResponse({ type: AgentRunDto, description: 'an async run, queued' })
  @ApiBadRequestResponse({ type: ErrorResponseDto })
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'TOOL_NOT_FOUND' })
  async create(
    @Body() dto: CreateAgentRunDto,
    @Ctx() ctx: RequestContext,
    @Res({ passthrough: true }) res: Response,
  ): Promise<AgentRunDto> {
    const run = await this.runs.create(dto, ctx);
    res.status(dto.async ? 202 : 200);
    return toRunDto(run);
  }

  /**
   * Runs newest first, without their steps: `status` filters, `limit` (1-100, default 20) sizes
   * the page, `before` (the previous page's `next`) continues.
   */
  @Get()
  @ApiOkResponse({ type: AgentRunListDto })
  @ApiBadRequestResponse({ type: ErrorResponseDto, description: 'VALIDATION_FAILED' })
  async list(@Query() query: AgentRunListQueryDto): Promise<AgentRunListDto> {
    const page = await this.runs.list({
      limit: query.limit ?? 20,
      ...(query.status ? { status: query.status } : {}),
      ...(query.before ? { before: query.before } : {}),
    });
    return {
      runs: page.runs.map(toRunSummaryDto),
      ...(page.next ? { next: page.next } : {}),
    };
  }

  @Get(':id')
  @ApiOkResponse({
    type: AgentRunDto,
    description:
      'The run with every step. A synchronous run whose process stopped (its lease, KEEL_AGENT_RUN_LEASE_MS, lapsed) is ended by this read: failed, error AGENT_RUN_ABANDONED.',
  })
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'AGENT_RUN_NOT_FOUND' })
  async get(@Param('id', runId) id: string): Promise<AgentRunDto> {
    return toRunDto(await this.runs.require(id));
  }

  /** Cancels a queued or running run: its in-flight model and tool calls are aborted. */
  @Delete(':id')
  @ApiOkResponse({ type: AgentRunDto })
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'AGENT_RUN_NOT_FOUND' })
  @ApiConflictResponse({ type: ErrorResponseDto, description: 'AGENT_RUN_FINISHED' })
  async cancel(@Param('id', runId) id: string): Promise<AgentRunDto> {
    return toRunDto(await this.runs.cancel(id));
  }
}
