import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsIn, IsInt, IsOptional, IsString, Matches, Max, Min } from 'class-validator';
import {
  CHUNK_SIZE_MAX,
  CHUNK_SIZE_MIN,
  COLLECTION_NAME_PATTERN,
  DEFAULT_CHUNK_OVERLAP,
  DEFAULT_CHUNK_SIZE,
  DEFAULT_ENCODING,
  BACKENDS,
  ENCODINGS,
  type BackendName,
  type EncodingName,
} from '../limits.js';

export class CreateCollectionDto {
  @ApiProperty({ pattern: COLLECTION_NAME_PATTERN.source, example: 'scifact' })
  @IsString()
  @Matches(COLLECTION_NAME_PATTERN, {
    message: `name must match ${COLLECTION_NAME_PATTERN.source}`,
  })
  name!: string;

  @ApiPropertyOptional({
    minimum: CHUNK_SIZE_MIN,
    maximum: CHUNK_SIZE_MAX,
    default: DEFAULT_CHUNK_SIZE,
    description: 'Chunk size in tokens of the collection encoding.',
  })
  @IsOptional()
  @IsInt()
  @Min(CHUNK_SIZE_MIN)
  @Max(CHUNK_SIZE_MAX)
  chunkSize?: number;

  @ApiPropertyOptional({
    minimum: 0,
    default: DEFAULT_CHUNK_OVERLAP,
    description: 'Tokens shared by consecutive chunks; less than chunkSize.',
  })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(CHUNK_SIZE_MAX - 1)
  chunkOverlap?: number;

  @ApiPropertyOptional({ enum: ENCODINGS, default: DEFAULT_ENCODING })
  @IsOptional()
  @IsIn(ENCODINGS)
  encoding?: EncodingName;

  @ApiPropertyOptional({
    enum: BACKENDS,
    description:
      'Where the chunks live; default opensearch when OPENSEARCH_URL is set, else sqlite.',
  })
  @IsOptional()
  @IsIn(BACKENDS)
  backend?: BackendName;

  @ApiPropertyOptional({
    description:
      'Embed chunks for dense and hybrid retrieval with the configured embedding server. Default: true when EMBEDDINGS_URL is set.',
  })
  @IsOptional()
  @IsBoolean()
  vectors?: boolean;
}

export class EmbeddingSpecDto {
  @ApiProperty()
  model!: string;

  @ApiProperty()
  dimensions!: number;
}

export class CollectionDto {
  @ApiProperty({ example: 'scifact' })
  name!: string;

  @ApiProperty({ enum: BACKENDS })
  backend!: BackendName;

  @ApiPropertyOptional({
    type: EmbeddingSpecDto,
    description: 'Set when the collection has vectors.',
  })
  embedding?: EmbeddingSpecDto;

  @ApiProperty()
  chunkSize!: number;

  @ApiProperty()
  chunkOverlap!: number;

  @ApiProperty({ enum: ENCODINGS })
  encoding!: EncodingName;

  @ApiProperty()
  documentCount!: number;

  @ApiProperty()
  chunkCount!: number;

  @ApiProperty({ format: 'date-time' })
  createdAt!: string;

  @ApiProperty({ format: 'date-time' })
  updatedAt!: string;
}

export class CollectionListDto {
  @ApiProperty({ type: [CollectionDto] })
  collections!: CollectionDto[];
}
