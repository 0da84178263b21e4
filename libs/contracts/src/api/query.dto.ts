import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
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
import {
  BUDGET_TOKENS_MAX,
  BUDGET_TOKENS_MIN,
  COLLECTION_NAME_PATTERN,
  ENCODINGS,
  QUERY_MAX_CHARS,
  RERANK_METHOD_NAMES,
  RETRIEVAL_MODES,
  TOP_K_MAX,
  type EncodingName,
  type Metadata,
  type RerankMethodName,
  type RetrievalMode,
} from '../limits.js';
import { IsFlatMetadata, IsNotBlank } from '../validation.js';
import { CitationDto } from './pack.dto.js';

export class QueryRequestDto {
  @ApiProperty({ pattern: COLLECTION_NAME_PATTERN.source, example: 'sample' })
  @IsString()
  @Matches(COLLECTION_NAME_PATTERN, {
    message: `collection must match ${COLLECTION_NAME_PATTERN.source}`,
  })
  collection!: string;

  @ApiProperty({
    maxLength: QUERY_MAX_CHARS,
    example: 'How does Keel decide how many workers to run?',
  })
  @IsString()
  @IsNotBlank()
  @MaxLength(QUERY_MAX_CHARS)
  query!: string;

  @ApiPropertyOptional({
    minimum: 1,
    maximum: TOP_K_MAX,
    default: 50,
    description: 'Candidates retrieved for reranking.',
  })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(TOP_K_MAX)
  topK?: number;

  @ApiPropertyOptional({
    minimum: 1,
    maximum: TOP_K_MAX,
    default: 8,
    description: 'Best passages offered to the packer.',
  })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(TOP_K_MAX)
  contextTopK?: number;

  @ApiPropertyOptional({ enum: RETRIEVAL_MODES, default: 'bm25' })
  @IsOptional()
  @IsIn(RETRIEVAL_MODES)
  mode?: RetrievalMode;

  @ApiPropertyOptional({ enum: RERANK_METHOD_NAMES, default: 'keel' })
  @IsOptional()
  @IsIn(RERANK_METHOD_NAMES)
  rerank?: RerankMethodName;

  @ApiPropertyOptional({ minimum: BUDGET_TOKENS_MIN, maximum: BUDGET_TOKENS_MAX, default: 3000 })
  @IsOptional()
  @IsInt()
  @Min(BUDGET_TOKENS_MIN)
  @Max(BUDGET_TOKENS_MAX)
  budgetTokens?: number;

  @ApiPropertyOptional({ enum: ENCODINGS, default: 'o200k_base' })
  @IsOptional()
  @IsIn(ENCODINGS)
  encoding?: EncodingName;

  @ApiPropertyOptional({ type: 'object', additionalProperties: true })
  @IsOptional()
  @IsFlatMetadata()
  filter?: Metadata;

  @ApiPropertyOptional({
    default: true,
    description: 'Return each document once, represented by its best chunk.',
  })
  @IsOptional()
  @IsBoolean()
  groupByDocument?: boolean;
}

export class ContextPassageDto {
  @ApiProperty()
  marker!: number;

  @ApiProperty()
  id!: string;

  @ApiProperty()
  documentId!: string;

  @ApiPropertyOptional()
  title?: string;

  @ApiProperty()
  text!: string;

  @ApiProperty()
  score!: number;

  @ApiProperty()
  truncated!: boolean;
}

export class UsageDto {
  @ApiProperty({ description: 'Tokens of the packed prompt.' })
  promptTokens!: number;

  @ApiProperty()
  completionTokens!: number;
}

export class QueryResponseDto {
  @ApiProperty()
  answer!: string;

  @ApiProperty({ enum: ['generated', 'extractive'] })
  mode!: 'generated' | 'extractive';

  @ApiProperty({ type: [CitationDto] })
  citations!: CitationDto[];

  @ApiProperty({ type: [ContextPassageDto] })
  contexts!: ContextPassageDto[];

  @ApiProperty({ type: UsageDto })
  usage!: UsageDto;

  @ApiProperty({
    description: 'True when a retrieval leg failed and the answer comes from the others.',
  })
  degraded!: boolean;

  @ApiProperty({ type: [String] })
  failedLegs!: string[];

  @ApiProperty({
    type: 'object',
    additionalProperties: { type: 'number' },
    description: 'Milliseconds per stage: retrieve, rerank, pack, total.',
  })
  timings!: Record<string, number>;
}
