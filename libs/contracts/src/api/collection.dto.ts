import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsInt, IsOptional, IsString, Matches, Max, Min } from 'class-validator';
import {
  CHUNK_SIZE_MAX,
  CHUNK_SIZE_MIN,
  COLLECTION_NAME_PATTERN,
  DEFAULT_CHUNK_OVERLAP,
  DEFAULT_CHUNK_SIZE,
  DEFAULT_ENCODING,
  ENCODINGS,
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
}

export class CollectionDto {
  @ApiProperty({ example: 'scifact' })
  name!: string;

  @ApiProperty({ enum: ['sqlite'] })
  backend!: 'sqlite';

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
