import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
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
  BUDGET_TOKENS_MAX,
  BUDGET_TOKENS_MIN,
  DOCUMENT_ID_MAX_CHARS,
  DOCUMENT_TEXT_MAX_CHARS,
  ENCODINGS,
  PASSAGES_MAX,
  QUERY_MAX_CHARS,
  TEMPLATE_MAX_CHARS,
  TITLE_MAX_CHARS,
  type EncodingName,
} from '../limits.js';
import { IsNotBlank } from '../validation.js';

export class PackPassageDto {
  @ApiProperty()
  @IsString()
  @MinLength(1)
  @MaxLength(DOCUMENT_ID_MAX_CHARS + 16)
  id!: string;

  @ApiProperty()
  @IsString()
  @MaxLength(DOCUMENT_TEXT_MAX_CHARS)
  text!: string;

  @ApiPropertyOptional({ description: 'Higher packs first; input order breaks ties.' })
  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  score?: number;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @MaxLength(TITLE_MAX_CHARS)
  title?: string;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @MaxLength(DOCUMENT_ID_MAX_CHARS)
  documentId?: string;
}

export class PackRequestDto {
  @ApiProperty({ maxLength: QUERY_MAX_CHARS })
  @IsString()
  @IsNotBlank()
  @MaxLength(QUERY_MAX_CHARS)
  query!: string;

  @ApiProperty({ type: [PackPassageDto], maxItems: PASSAGES_MAX })
  @IsArray()
  @ArrayMaxSize(PASSAGES_MAX)
  @ValidateNested({ each: true })
  @Type(() => PackPassageDto)
  passages!: PackPassageDto[];

  @ApiProperty({ minimum: BUDGET_TOKENS_MIN, maximum: BUDGET_TOKENS_MAX, example: 2000 })
  @IsInt()
  @Min(BUDGET_TOKENS_MIN)
  @Max(BUDGET_TOKENS_MAX)
  budgetTokens!: number;

  @ApiPropertyOptional({ enum: ENCODINGS, default: 'o200k_base' })
  @IsOptional()
  @IsIn(ENCODINGS)
  encoding?: EncodingName;

  @ApiPropertyOptional({
    maxLength: TEMPLATE_MAX_CHARS,
    description: 'Prompt template with {context} and {query} placeholders.',
  })
  @IsOptional()
  @IsString()
  @MaxLength(TEMPLATE_MAX_CHARS)
  template?: string;
}

export class CitationDto {
  @ApiProperty({ example: 1 })
  marker!: number;

  @ApiProperty()
  id!: string;

  @ApiPropertyOptional()
  documentId?: string;

  @ApiPropertyOptional()
  title?: string;
}

export class PackedPassageDto {
  @ApiProperty()
  id!: string;

  @ApiProperty()
  marker!: number;

  @ApiProperty()
  tokens!: number;

  @ApiProperty()
  truncated!: boolean;

  @ApiProperty()
  text!: string;
}

export class DroppedPassageDto {
  @ApiProperty()
  id!: string;

  @ApiProperty({ enum: ['duplicate', 'budget'] })
  reason!: 'duplicate' | 'budget';
}

export class PackResponseDto {
  @ApiProperty()
  prompt!: string;

  @ApiProperty({ description: "Exactly the tokenizer's count of `prompt`." })
  tokens!: number;

  @ApiProperty({ enum: ENCODINGS })
  encoding!: EncodingName;

  @ApiProperty({ type: [PackedPassageDto] })
  included!: PackedPassageDto[];

  @ApiProperty({ type: [DroppedPassageDto] })
  dropped!: DroppedPassageDto[];

  @ApiProperty({ type: [CitationDto] })
  citations!: CitationDto[];

  @ApiProperty({ type: 'object', additionalProperties: { type: 'number' } })
  timings!: Record<string, number>;
}
