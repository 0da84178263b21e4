import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
} from 'class-validator';
import { COLLECTION_NAME_PATTERN, QUERY_MAX_CHARS } from '../limits.js';
import { IsNotBlank } from '../validation.js';
import { JobErrorDto } from './job.dto.js';

export const TOOL_NAME_PATTERN = /^[a-zA-Z0-9_-]{1,64}$/;
export const AGENT_MAX_STEPS_LIMIT = 50;
export const AGENT_DEADLINE_MS_MAX = 3_600_000;
export const AGENT_TOKEN_BUDGET_MAX = 2_000_000;
export const AGENT_RUN_STATUSES = [
  'queued',
  'running',
  'completed',
  'failed',
  'cancelled',
] as const;
export const AGENT_END_REASONS = [
  'answer',
  'max_steps',
  'deadline',
  'token_budget',
  'cancelled',
  'error',
] as const;

export class CreateAgentRunDto {
  @ApiProperty({
    maxLength: QUERY_MAX_CHARS,
    example: 'Does vitamin D supplementation reduce fracture risk? Cite the abstracts.',
  })
  @IsString()
  @IsNotBlank()
  @MaxLength(QUERY_MAX_CHARS)
  input!: string;

  @ApiPropertyOptional({ maxLength: QUERY_MAX_CHARS, description: 'Extra system instructions.' })
  @IsOptional()
  @IsString()
  @MaxLength(QUERY_MAX_CHARS)
  instructions?: string;

  @ApiPropertyOptional({
    pattern: COLLECTION_NAME_PATTERN.source,
    description: 'The collection search_collection and fetch_document default to.',
  })
  @IsOptional()
  @IsString()
  @Matches(COLLECTION_NAME_PATTERN, {
    message: `collection must match ${COLLECTION_NAME_PATTERN.source}`,
  })
  collection?: string;

  @ApiPropertyOptional({
    type: [String],
    description: 'Tools offered to the model (GET /v1/tools); all of them when absent.',
  })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(64)
  @Matches(TOOL_NAME_PATTERN, { each: true, message: 'each tool must be a tool name' })
  tools?: string[];

  @ApiPropertyOptional({ minimum: 1, maximum: AGENT_MAX_STEPS_LIMIT, default: 8 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(AGENT_MAX_STEPS_LIMIT)
  maxSteps?: number;

  @ApiPropertyOptional({
    minimum: 100,
    maximum: AGENT_DEADLINE_MS_MAX,
    default: 120_000,
    description:
      'Total deadline of the run. A synchronous run also ends with its request (KEEL_REQUEST_TIMEOUT_MS or the client leaving).',
  })
  @IsOptional()
  @IsInt()
  @Min(100)
  @Max(AGENT_DEADLINE_MS_MAX)
  deadlineMs?: number;

  @ApiPropertyOptional({
    minimum: 500,
    maximum: AGENT_TOKEN_BUDGET_MAX,
    default: 32_000,
    description: 'Prompt + completion tokens over every model call of the run.',
  })
  @IsOptional()
  @IsInt()
  @Min(500)
  @Max(AGENT_TOKEN_BUDGET_MAX)
  tokenBudget?: number;

  @ApiPropertyOptional({
    default: false,
    description: 'Run as an `agent` job: 202 at once, then GET /v1/agent/runs/:id.',
  })
  @IsOptional()
  @IsBoolean()
  async?: boolean;
}

export class AgentUsageDto {
  @ApiProperty() promptTokens!: number;
  @ApiProperty() completionTokens!: number;
}

export class AgentRunDto {
  @ApiProperty() id!: string;
  @ApiProperty({ enum: AGENT_RUN_STATUSES }) status!: (typeof AGENT_RUN_STATUSES)[number];
  @ApiPropertyOptional({ enum: AGENT_END_REASONS })
  endReason?: (typeof AGENT_END_REASONS)[number];
  @ApiPropertyOptional() answer?: string;
  @ApiPropertyOptional({
    example: false,
    description:
      "Completed runs only: true when the model stopped at its token limit (finish_reason `length`; the limit of a call is the lesser of 4096 tokens and what the run's tokenBudget leaves), so the answer is cut off. The run still completes with endReason `answer`; its answer step says truncated too.",
  })
  truncated?: boolean;
  @ApiPropertyOptional({ type: JobErrorDto }) error?: JobErrorDto;
  @ApiProperty({ type: AgentUsageDto }) usage!: AgentUsageDto;
  @ApiProperty({
    type: 'array',
    items: { type: 'object' },
    description:
      'Every step, in order: plan (the model’s message and tool calls), call_tools (each call’s outcome), observe (what the model was shown), answer.',
  })
  steps!: Array<Record<string, unknown>>;
  @ApiProperty({ description: 'The request as the run was created: input, tools, bounds.' })
  spec!: Record<string, unknown>;
  @ApiProperty() createdAt!: string;
  @ApiPropertyOptional() startedAt?: string;
  @ApiPropertyOptional() finishedAt?: string;
  @ApiProperty({ description: 'Times the run was started; > 1 after a takeover on restart.' })
  attempts!: number;
}

/** A cursor of `GET /v1/agent/runs`: the last run's creation time (ms, 15 digits) and id. */
export const AGENT_RUN_CURSOR_PATTERN = /^(\d{15}):([0-9a-f-]{36})$/;
export const AGENT_RUN_LIST_MAX = 100;

export class AgentRunListQueryDto {
  @ApiPropertyOptional({ enum: AGENT_RUN_STATUSES })
  @IsOptional()
  @IsIn(AGENT_RUN_STATUSES)
  status?: (typeof AGENT_RUN_STATUSES)[number];

  @ApiPropertyOptional({ minimum: 1, maximum: AGENT_RUN_LIST_MAX, default: 20 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(AGENT_RUN_LIST_MAX)
  limit?: number;

  @ApiPropertyOptional({ description: 'The `next` of the previous page.' })
  @IsOptional()
  @Matches(AGENT_RUN_CURSOR_PATTERN, { message: 'before must be the next of a previous page' })
  before?: string;
}

export class AgentRunSummaryDto {
  @ApiProperty() id!: string;
  @ApiProperty({ enum: AGENT_RUN_STATUSES }) status!: (typeof AGENT_RUN_STATUSES)[number];
  @ApiPropertyOptional({ enum: AGENT_END_REASONS })
  endReason?: (typeof AGENT_END_REASONS)[number];
  @ApiPropertyOptional({ type: JobErrorDto }) error?: JobErrorDto;
  @ApiProperty({ type: AgentUsageDto }) usage!: AgentUsageDto;
  @ApiProperty({ description: 'Steps written so far; GET /v1/agent/runs/:id shows them.' })
  stepCount!: number;
  @ApiProperty({ description: 'The request as the run was created: input, tools, bounds.' })
  spec!: Record<string, unknown>;
  @ApiProperty() createdAt!: string;
  @ApiPropertyOptional() startedAt?: string;
  @ApiPropertyOptional() finishedAt?: string;
  @ApiProperty() attempts!: number;
}

export class AgentRunListDto {
  @ApiProperty({ type: [AgentRunSummaryDto], description: 'Newest first.' })
  runs!: AgentRunSummaryDto[];

  @ApiPropertyOptional({
    description:
      'Present when there may be more runs: pass it as `before`. A page can hold fewer than `limit` runs and still have one (a status filter reads a bounded number of runs per page).',
  })
  next?: string;
}
