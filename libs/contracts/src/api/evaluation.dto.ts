import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsIn,
  IsInt,
  IsNumber,
  IsObject,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  MinLength,
  ValidateNested,
} from 'class-validator';
import {
  BUDGET_TOKENS_MAX,
  BUDGET_TOKENS_MIN,
  COLLECTION_NAME_PATTERN,
  DOCUMENT_ID_MAX_CHARS,
  ENCODINGS,
  QUERY_MAX_CHARS,
  RERANK_METHOD_NAMES,
  RETRIEVAL_MODES,
  TOP_K_MAX,
  type EncodingName,
  type RerankMethodName,
  type RetrievalMode,
} from '../limits.js';
import { JOB_STATES, type JobState } from '../jobs/job-map.js';
import { IsNotBlank } from '../validation.js';
import { JobErrorDto } from './job.dto.js';

/** Dataset and split names: they name files on the server, so no path separators. */
export const DATASET_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
export const EVALUATION_QUERIES_MAX = 100_000;
export const EVALUATION_METRICS_MAX = 32;

export class EvaluationQueryDto {
  @ApiProperty({ maxLength: DOCUMENT_ID_MAX_CHARS })
  @IsString()
  @MinLength(1)
  @MaxLength(DOCUMENT_ID_MAX_CHARS)
  id!: string;

  @ApiProperty({ maxLength: QUERY_MAX_CHARS })
  @IsString()
  @IsNotBlank()
  @MaxLength(QUERY_MAX_CHARS)
  text!: string;
}

export class EvaluationAnswerItemDto {
  @ApiProperty({ maxLength: DOCUMENT_ID_MAX_CHARS })
  @IsString()
  @MinLength(1)
  @MaxLength(DOCUMENT_ID_MAX_CHARS)
  id!: string;

  @ApiProperty({ maxLength: QUERY_MAX_CHARS })
  @IsString()
  @IsNotBlank()
  @MaxLength(QUERY_MAX_CHARS)
  question!: string;

  @ApiProperty({ type: [String], description: 'Acceptable answers; may be empty with evidence.' })
  @IsArray()
  @IsString({ each: true })
  answers!: string[];

  @ApiPropertyOptional({ type: [String], description: 'Gold evidence as text.' })
  @IsOptional()
  @IsArray()
  @IsString({ each: true })
  contexts?: string[];

  @ApiPropertyOptional({ type: [String], description: 'Gold evidence as document ids.' })
  @IsOptional()
  @IsArray()
  @IsString({ each: true })
  docIds?: string[];
}

/**
 * Either upload the dataset (`queries` + `qrels` for retrieval, or `items` for answers) or name
 * one under the server's KEEL_DATASETS_DIR: a BEIR directory `<name>/` (with `split`) or an
 * answer-level file `<name>.jsonl`.
 */
export class EvaluationDatasetDto {
  @ApiProperty({ pattern: DATASET_NAME_PATTERN.source, example: 'scifact' })
  @IsString()
  @Matches(DATASET_NAME_PATTERN, { message: `name must match ${DATASET_NAME_PATTERN.source}` })
  name!: string;

  @ApiPropertyOptional({ pattern: DATASET_NAME_PATTERN.source, default: 'test' })
  @IsOptional()
  @IsString()
  @Matches(DATASET_NAME_PATTERN, { message: `split must match ${DATASET_NAME_PATTERN.source}` })
  split?: string;

  @ApiPropertyOptional({ type: [EvaluationQueryDto], maxItems: EVALUATION_QUERIES_MAX })
  @IsOptional()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(EVALUATION_QUERIES_MAX)
  @ValidateNested({ each: true })
  @Type(() => EvaluationQueryDto)
  queries?: EvaluationQueryDto[];

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: { type: 'object', additionalProperties: { type: 'integer' } },
    description: 'query id → document id → graded relevance (integer; ≥ 1 is relevant).',
    example: { q1: { 'doc-7': 2, 'doc-9': 0 } },
  })
  @IsOptional()
  @IsObject()
  qrels?: Record<string, Record<string, number>>;

  @ApiPropertyOptional({ type: [EvaluationAnswerItemDto], maxItems: EVALUATION_QUERIES_MAX })
  @IsOptional()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(EVALUATION_QUERIES_MAX)
  @ValidateNested({ each: true })
  @Type(() => EvaluationAnswerItemDto)
  items?: EvaluationAnswerItemDto[];
}

export class EvaluationConfigDto {
  @ApiPropertyOptional({ enum: RETRIEVAL_MODES, default: 'bm25' })
  @IsOptional()
  @IsIn(RETRIEVAL_MODES)
  mode?: RetrievalMode;

  @ApiPropertyOptional({ minimum: 1, maximum: TOP_K_MAX, default: 100 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(TOP_K_MAX)
  topK?: number;

  @ApiPropertyOptional({ enum: RERANK_METHOD_NAMES, default: 'keel' })
  @IsOptional()
  @IsIn(RERANK_METHOD_NAMES)
  rerank?: RerankMethodName;

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: { type: 'number' },
    description:
      'Weights of the keel combination: first, bm25, proximity, title, coverage, feedback.',
    example: { first: 1, bm25: 0.5, proximity: 0.3, title: 0.2, coverage: 0.2 },
  })
  @IsOptional()
  @IsObject()
  rerankWeights?: Record<string, number>;

  @ApiPropertyOptional({ minimum: 0, maximum: 1 })
  @IsOptional()
  @IsNumber()
  @Min(0)
  @Max(1)
  mmrLambda?: number;

  @ApiPropertyOptional({ minimum: BUDGET_TOKENS_MIN, maximum: BUDGET_TOKENS_MAX, default: 3000 })
  @IsOptional()
  @IsInt()
  @Min(BUDGET_TOKENS_MIN)
  @Max(BUDGET_TOKENS_MAX)
  budgetTokens?: number;

  @ApiPropertyOptional({ minimum: 1, maximum: TOP_K_MAX, default: 8 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(TOP_K_MAX)
  contextTopK?: number;

  @ApiPropertyOptional({ enum: ENCODINGS, default: 'o200k_base' })
  @IsOptional()
  @IsIn(ENCODINGS)
  encoding?: EncodingName;

  @ApiPropertyOptional({
    type: [String],
    description:
      'Retrieval metrics: ndcg@k, mrr@k, recall@k, precision@k, map@k, hit@k (trec_eval semantics).',
    example: ['ndcg@10', 'recall@100'],
  })
  @IsOptional()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(EVALUATION_METRICS_MAX)
  @IsString({ each: true })
  metrics?: string[];
}

export class CreateEvaluationDto {
  @ApiProperty({ pattern: COLLECTION_NAME_PATTERN.source, example: 'scifact' })
  @IsString()
  @Matches(COLLECTION_NAME_PATTERN, {
    message: `collection must match ${COLLECTION_NAME_PATTERN.source}`,
  })
  collection!: string;

  @ApiPropertyOptional({ maxLength: 100, example: 'bm25 + keel rerank' })
  @IsOptional()
  @IsString()
  @MaxLength(100)
  label?: string;

  @ApiProperty({ type: EvaluationDatasetDto })
  @ValidateNested()
  @Type(() => EvaluationDatasetDto)
  dataset!: EvaluationDatasetDto;

  @ApiPropertyOptional({ type: EvaluationConfigDto })
  @IsOptional()
  @ValidateNested()
  @Type(() => EvaluationConfigDto)
  config?: EvaluationConfigDto;
}

export class EvaluationAcceptedDto {
  @ApiProperty()
  id!: string;

  @ApiProperty({ example: '/v1/evaluations/0b5c…' })
  location!: string;
}

export class EvaluationDto {
  @ApiProperty()
  id!: string;

  @ApiProperty({ enum: JOB_STATES })
  state!: JobState;

  @ApiProperty({ minimum: 0, maximum: 1 })
  progress!: number;

  @ApiPropertyOptional({ type: JobErrorDto })
  error?: JobErrorDto;

  @ApiProperty({ format: 'date-time' })
  createdAt!: string;

  @ApiPropertyOptional({ format: 'date-time' })
  startedAt?: string;

  @ApiPropertyOptional({ format: 'date-time' })
  finishedAt?: string;

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: true,
    description:
      'When completed: label, collection, dataset, config, metrics, aggregate (mean per metric), perQuery (values per query), timings.',
  })
  report?: Record<string, unknown>;
}

export class CompareEvaluationsQueryDto {
  @ApiPropertyOptional({
    description: 'Metric the per-query lists are sorted by (default: the first).',
  })
  @IsOptional()
  @IsString()
  @MaxLength(32)
  metric?: string;

  @ApiPropertyOptional({ minimum: 0.0001, maximum: 0.5, default: 0.05 })
  @IsOptional()
  @Type(() => Number)
  @IsNumber()
  @Min(0.0001)
  @Max(0.5)
  alpha?: number;
}

export class EvaluationSummaryDto {
  @ApiProperty()
  id!: string;

  @ApiProperty()
  label!: string;

  @ApiProperty()
  collection!: string;

  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    example: { kind: 'retrieval', name: 'scifact', split: 'test', queries: 300 },
  })
  dataset!: Record<string, unknown>;

  @ApiProperty({ type: 'object', additionalProperties: { type: 'number' } })
  aggregate!: Record<string, number>;

  @ApiProperty({ format: 'date-time' })
  createdAt!: string;

  @ApiProperty({ format: 'date-time' })
  finishedAt!: string;
}
