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

  @ApiPropertyOptional({
    default: true,
    description:
      'With an LLM configured, generate the answer from the packed passages; false forces the extractive answer. Without an LLM the answer is always extractive.',
  })
  @IsOptional()
  @IsBoolean()
  generate?: boolean;
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
  @ApiProperty({
    description:
      "Extractive: tokens of the packed prompt. Generated: the LLM's prompt tokens (system message and packed prompt).",
  })
  promptTokens!: number;

  @ApiProperty({ description: "Generated: the LLM's completion tokens; extractive: 0." })
  completionTokens!: number;

  @ApiPropertyOptional({
    description:
      "Present (true) when the LLM reported no usage and Keel counted the tokens itself (o200k_base): an estimate, as the model's tokenizer may differ.",
  })
  estimated?: boolean;
}

export class QueryResponseDto {
  @ApiProperty()
  answer!: string;

  @ApiProperty({ enum: ['generated', 'extractive'] })
  mode!: 'generated' | 'extractive';

  @ApiProperty({
    type: [CitationDto],
    description:
      'The packed passages the answer cites, in marker order. Generated answers are checked: only markers of passages in the context count.',
  })
  citations!: CitationDto[];

  @ApiPropertyOptional({
    type: [Number],
    example: [9],
    description:
      'Generated answers only: markers the answer cites that no packed passage carries (the model made them up). They are left in the answer text and dropped from citations.',
  })
  unsupportedCitations?: number[];

  @ApiPropertyOptional({
    example: false,
    description:
      'Generated answers only: true when the model stopped at its token limit (finish_reason `length`), so the answer is cut off where it ends. Its citations are checked all the same, on the text produced.',
  })
  truncated?: boolean;

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
    description:
      'Milliseconds per stage: retrieve, rerank, pack, generate (generated answers), total.',
  })
  timings!: Record<string, number>;
}

/**
 * The events of `POST /v1/query` with `Accept: text/event-stream`, in order: one `contexts`, then
 * `delta`s of answer text, then one `done` with the whole response (the JSON body of the plain
 * call). A failure after the stream began is one `error` event instead of `done`.
 */
export type QueryStreamEvent =
  | { type: 'contexts'; contexts: ContextPassageDto[] }
  | { type: 'delta'; text: string }
  | { type: 'done'; response: QueryResponseDto };
