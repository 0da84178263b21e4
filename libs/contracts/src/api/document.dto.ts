import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsIn,
  IsOptional,
  IsString,
  MaxLength,
  MinLength,
  ValidateNested,
} from 'class-validator';
import {
  BATCH_MAX_DOCUMENTS,
  DOCUMENT_ID_MAX_CHARS,
  DOCUMENT_TEXT_MAX_CHARS,
  TITLE_MAX_CHARS,
  type Metadata,
} from '../limits.js';
import { IsFlatMetadata, IsNotBlank } from '../validation.js';

export class DocumentInputDto {
  @ApiProperty({ maxLength: DOCUMENT_ID_MAX_CHARS, example: 'doc-1' })
  @IsString()
  @MinLength(1)
  @MaxLength(DOCUMENT_ID_MAX_CHARS)
  id!: string;

  @ApiPropertyOptional({ maxLength: TITLE_MAX_CHARS })
  @IsOptional()
  @IsString()
  @MaxLength(TITLE_MAX_CHARS)
  title?: string;

  @ApiProperty({ maxLength: DOCUMENT_TEXT_MAX_CHARS })
  @IsString()
  @IsNotBlank()
  @MaxLength(DOCUMENT_TEXT_MAX_CHARS)
  text!: string;

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: { oneOf: [{ type: 'string' }, { type: 'number' }, { type: 'boolean' }] },
    example: { year: 2020, source: 'pubmed' },
  })
  @IsOptional()
  @IsFlatMetadata()
  metadata?: Metadata;
}

export class IngestDocumentsDto {
  @ApiProperty({ type: [DocumentInputDto], minItems: 1, maxItems: BATCH_MAX_DOCUMENTS })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(BATCH_MAX_DOCUMENTS)
  @ValidateNested({ each: true })
  @Type(() => DocumentInputDto)
  documents!: DocumentInputDto[];
}

export class IngestedDocumentDto {
  @ApiProperty()
  id!: string;

  @ApiProperty({ enum: ['created', 'updated', 'unchanged', 'failed'] })
  status!: 'created' | 'updated' | 'unchanged' | 'failed';

  @ApiProperty()
  chunks!: number;

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: true,
    description:
      'Why a failed document was refused (`code`, `message`); it keeps its previous version.',
  })
  error?: { code: string; message: string };
}

export class IngestResultDto {
  @ApiProperty()
  jobId!: string;

  @ApiProperty()
  collection!: string;

  @ApiProperty()
  created!: number;

  @ApiProperty()
  updated!: number;

  @ApiProperty()
  unchanged!: number;

  @ApiProperty({ description: 'Chunks written by this ingest.' })
  chunks!: number;

  @ApiPropertyOptional({ description: 'Documents refused by the backend; the others were stored.' })
  failed?: number;

  @ApiProperty({ type: [IngestedDocumentDto] })
  documents!: IngestedDocumentDto[];
}

export class IngestQueryDto {
  @ApiPropertyOptional({
    enum: ['true', 'false'],
    description: 'true: answer 200 with the result once the ingest is done, instead of 202.',
  })
  @IsOptional()
  @IsIn(['true', 'false', '1', '0'], { message: 'wait must be true or false' })
  wait?: 'true' | 'false' | '1' | '0';
}

export class JobAcceptedDto {
  @ApiProperty()
  jobId!: string;

  @ApiProperty({ example: '/v1/jobs/5b0e6f8e-1f0a-4c55-9a53-8f3f0c3e2a10' })
  location!: string;
}

export class StoredDocumentDto {
  @ApiProperty()
  id!: string;

  @ApiProperty()
  collection!: string;

  @ApiPropertyOptional()
  title?: string;

  @ApiProperty()
  text!: string;

  @ApiProperty({ type: 'object', additionalProperties: true })
  metadata!: Metadata;

  @ApiProperty()
  chunks!: number;

  @ApiProperty({ format: 'date-time' })
  updatedAt!: string;
}
