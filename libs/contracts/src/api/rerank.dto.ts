import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsIn,
  IsInt,
  IsNumber,
  IsOptional,
  IsString,
  Max,
  MaxLength,
  Min,
  MinLength,
  ValidateNested,
} from 'class-validator';
import {
  DOCUMENT_ID_MAX_CHARS,
  DOCUMENT_TEXT_MAX_CHARS,
  PASSAGES_MAX,
  QUERY_MAX_CHARS,
  RERANK_METHOD_NAMES,
  TITLE_MAX_CHARS,
  TOP_K_MAX,
  type RerankMethodName,
} from '../limits.js';
import { IsNotBlank } from '../validation.js';

export class RerankCandidateDto {
  @ApiProperty()
  @IsString()
  @MinLength(1)
  @MaxLength(DOCUMENT_ID_MAX_CHARS + 16)
  id!: string;

  @ApiProperty()
  @IsString()
  @MaxLength(DOCUMENT_TEXT_MAX_CHARS)
  text!: string;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @MaxLength(TITLE_MAX_CHARS)
  title?: string;

  @ApiPropertyOptional({ description: 'First-stage score, higher is better.' })
  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  score?: number;
}

export class RerankRequestDto {
  @ApiProperty({ maxLength: QUERY_MAX_CHARS })
  @IsString()
  @IsNotBlank()
  @MaxLength(QUERY_MAX_CHARS)
  query!: string;

  @ApiProperty({ type: [RerankCandidateDto], minItems: 1, maxItems: PASSAGES_MAX })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(PASSAGES_MAX)
  @ValidateNested({ each: true })
  @Type(() => RerankCandidateDto)
  candidates!: RerankCandidateDto[];

  @ApiPropertyOptional({ minimum: 1, maximum: TOP_K_MAX, description: 'Defaults to all.' })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(TOP_K_MAX)
  topK?: number;

  @ApiPropertyOptional({ enum: RERANK_METHOD_NAMES, default: 'keel' })
  @IsOptional()
  @IsIn(RERANK_METHOD_NAMES)
  method?: RerankMethodName;

  @ApiPropertyOptional({ minimum: 0, maximum: 1, description: 'MMR relevance weight.' })
  @IsOptional()
  @IsNumber()
  @Min(0)
  @Max(1)
  mmrLambda?: number;
}

export class RerankedItemDto {
  @ApiProperty()
  id!: string;

  @ApiProperty()
  score!: number;

  @ApiProperty()
  rank!: number;

  @ApiProperty({ type: 'object', additionalProperties: { type: 'number' } })
  features!: Record<string, number>;
}

export class RerankResponseDto {
  @ApiProperty({ type: [RerankedItemDto] })
  results!: RerankedItemDto[];

  @ApiProperty({ enum: RERANK_METHOD_NAMES })
  method!: RerankMethodName;

  @ApiProperty({ type: 'object', additionalProperties: { type: 'number' } })
  timings!: Record<string, number>;
}
