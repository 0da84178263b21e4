import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsInt, IsOptional, IsString, Matches, Max, MaxLength, Min } from 'class-validator';
import {
  COLLECTION_NAME_PATTERN,
  QUERY_MAX_CHARS,
  RETRIEVAL_MODES,
  TOP_K_MAX,
  type Metadata,
  type RetrievalMode,
} from '../limits.js';
import { IsFlatMetadata, IsNotBlank } from '../validation.js';

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
    type: 'object',
    additionalProperties: { type: 'number' },
    description: 'Milliseconds per stage.',
  })
  timings!: Record<string, number>;
}
