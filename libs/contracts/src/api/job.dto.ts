import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { JOB_STATES, QUEUES, type JobState, type QueueName } from '../jobs/job-map.js';
import { ErrorDetailDto } from './error.dto.js';

export class JobErrorDto {
  @ApiProperty()
  code!: string;

  @ApiProperty()
  message!: string;

  @ApiPropertyOptional({ type: [ErrorDetailDto] })
  details?: ErrorDetailDto[];
}

export class JobDto {
  @ApiProperty()
  id!: string;

  @ApiProperty({ enum: QUEUES })
  queue!: QueueName;

  @ApiProperty({ example: 'ingest-documents' })
  name!: string;

  @ApiProperty({ enum: JOB_STATES })
  state!: JobState;

  @ApiProperty({ minimum: 0, maximum: 1 })
  progress!: number;

  @ApiPropertyOptional({ type: 'object', additionalProperties: true })
  result?: unknown;

  @ApiPropertyOptional({ type: JobErrorDto })
  error?: JobErrorDto;

  @ApiProperty({ format: 'date-time' })
  createdAt!: string;

  @ApiPropertyOptional({ format: 'date-time' })
  startedAt?: string;

  @ApiPropertyOptional({ format: 'date-time' })
  finishedAt?: string;
}
