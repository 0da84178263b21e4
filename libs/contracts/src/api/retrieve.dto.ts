import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  IsIn,
  IsInt,
  IsNumber,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';
import {
  COLLECTION_NAME_PATTERN,
  QUERY_MAX_CHARS,
  RETRIEVAL_MODES,
  TOP_K_MAX,
  type Metadata,
  type RetrievalMode,
} from '../limits.js';
import { IsFlatMetadata, IsNotBlank } from '../validation.js';

export const FUSION_METHODS = ['rrf', 'convex'] as const;
export type FusionMethodName = (typeof FUSION_METHODS)[number];

export class LegWeightsDto {
  @ApiPropertyOptional({ minimum: 0, maximum: 100, default: 1 })
  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(0)
  @Max(100)
  bm25?: number;

  @ApiPropertyOptional({ minimum: 0, maximum: 100, default: 1 })
  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(0)
  @Max(100)
  dense?: number;
}

/** How hybrid retrieval fuses its legs. */
export class FusionDto {
  @ApiPropertyOptional({
    enum: FUSION_METHODS,
    default: 'rrf',
    description: 'rrf: reciprocal rank fusion; convex: weighted sum of min-max normalised scores.',
  })
  @IsOptional()
  @IsIn(FUSION_METHODS)
  method?: FusionMethodName;

  @ApiPropertyOptional({ minimum: 0, maximum: 1000, default: 60, description: "RRF's k." })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(1_000)
  k?: number;

  @ApiPropertyOptional({ type: LegWeightsDto })
  @IsOptional()
  @ValidateNested()
  @Type(() => LegWeightsDto)
  weights?: LegWeightsDto;
}

export class RetrieveRequestDto {
  @ApiProperty({ pattern: COLLECTION_NAME_PATTERN.source, example: 'sample' })
  @IsString()
  @Matches(COLLECTION_NAME_PATTERN, {
    message: `collection must match ${COLLECTION_NAME_PATTERN.source}`,
  })
  collection!: string;

  @ApiProperty({ maxLength: QUERY_MAX_CHARS, example: 'how does keel scale workers' })
  @IsString()
  @IsNotBlank()
  @MaxLength(QUERY_MAX_CHARS)
  query!: string;

  @ApiPropertyOptional({ minimum: 1, maximum: TOP_K_MAX, default: 10 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(TOP_K_MAX)
  topK?: number;

  @ApiPropertyOptional({ enum: RETRIEVAL_MODES, default: 'bm25' })
  @IsOptional()
  @IsIn(RETRIEVAL_MODES)
  mode?: RetrievalMode;

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: { oneOf: [{ type: 'string' }, { type: 'number' }, { type: 'boolean' }] },
    description: 'Equality filters on document metadata; all must match.',
    example: { year: 2020 },
  })
  @IsOptional()
  @IsFlatMetadata()
  filter?: Metadata;

  @ApiPropertyOptional({
    enum: ['chunk', 'document'],
    default: 'chunk',
    description: "'document' returns each document once, represented by its best chunk.",
  })
  @IsOptional()
  @IsIn(['chunk', 'document'])
  group?: 'chunk' | 'document';

  @ApiPropertyOptional({ type: FusionDto, description: 'Hybrid mode only.' })
  @IsOptional()
  @ValidateNested()
  @Type(() => FusionDto)
  fusion?: FusionDto;
}

export class LegScoreDto {
  @ApiProperty()
  rank!: number;

  @ApiProperty()
  score!: number;
}

export class HitLegsDto {
  @ApiPropertyOptional({ type: LegScoreDto })
  bm25?: LegScoreDto;

  @ApiPropertyOptional({ type: LegScoreDto, description: 'score: cosine similarity' })
  dense?: LegScoreDto;
}

export class LegReportDto {
  @ApiProperty({ enum: ['ok', 'failed', 'timeout'] })
  status!: 'ok' | 'failed' | 'timeout';

  @ApiProperty({ description: 'Milliseconds the leg took.' })
  ms!: number;

  @ApiProperty({ description: 'Hits the leg returned.' })
  hits!: number;

  @ApiProperty({ description: 'Of the returned hits, how many this leg ranked.' })
  contributed!: number;

  @ApiPropertyOptional({ type: 'object', additionalProperties: true })
  error?: { code: string; message: string };
}

export class RetrievalLegsDto {
  @ApiPropertyOptional({ type: LegReportDto })
  bm25?: LegReportDto;

  @ApiPropertyOptional({ type: LegReportDto })
  dense?: LegReportDto;
}

export class RetrieveHitDto {
  @ApiProperty({ example: 'doc-1#0', description: '`documentId#chunkIndex`' })
  id!: string;

  @ApiProperty()
  documentId!: string;

  @ApiProperty()
  chunkIndex!: number;

  @ApiPropertyOptional()
  title?: string;

  @ApiProperty()
  text!: string;

  @ApiProperty({ type: 'object', additionalProperties: true })
  metadata!: Metadata;

  @ApiProperty({ description: 'Fused score, higher is better.' })
  score!: number;

  @ApiProperty({ type: HitLegsDto })
  legs!: HitLegsDto;
}

export class RetrieveResponseDto {
  @ApiProperty({ type: [RetrieveHitDto] })
  hits!: RetrieveHitDto[];

  @ApiProperty({ enum: RETRIEVAL_MODES })
  mode!: RetrievalMode;

  @ApiProperty({ description: 'True when a leg failed and the hits come from the others.' })
  degraded!: boolean;

  @ApiProperty({ type: [String] })
  failedLegs!: string[];

  @ApiProperty({
    type: RetrievalLegsDto,
    description: 'Status, time and contribution of each leg.',
  })
  legs!: RetrievalLegsDto;

  @ApiProperty({
    type: 'object',
    additionalProperties: { type: 'number' },
    description: 'Milliseconds per stage.',
  })
  timings!: Record<string, number>;
}
