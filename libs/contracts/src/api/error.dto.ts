import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ERROR_STATUS, type ErrorCode } from '../errors.js';

export class ErrorDetailDto {
  @ApiPropertyOptional({ example: 'documents[3].text' })
  field?: string;

  @ApiProperty({ example: 'must not be empty' })
  message!: string;
}

export class ErrorResponseDto {
  @ApiProperty({ example: 400 })
  statusCode!: number;

  @ApiProperty({ example: 'Bad Request' })
  error!: string;

  @ApiProperty({ example: 'documents[3].text must not be empty' })
  message!: string;

  @ApiProperty({ enum: Object.keys(ERROR_STATUS), example: 'VALIDATION_FAILED' })
  code!: ErrorCode;

  @ApiProperty({ example: 'c0a8012e-4f1d-4b7a-9f51-1c1b8f0f2a77' })
  requestId!: string;

  @ApiPropertyOptional({ type: [ErrorDetailDto] })
  details?: ErrorDetailDto[];
}
