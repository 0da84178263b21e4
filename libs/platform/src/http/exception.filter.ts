import {
  ArgumentsHost,
  Catch,
  ExceptionFilter,
  HttpException,
  HttpStatus,
  Logger,
} from '@nestjs/common';
import type { Response } from 'express';
import { ERROR_STATUS, KeelError, toKeelError, type ErrorCode } from '@keel/contracts/jobs';
import type { KeelRequest } from './request-context.js';

const CODE_FOR_STATUS: Partial<Record<number, ErrorCode>> = {
  400: 'VALIDATION_FAILED',
  401: 'UNAUTHORIZED',
  404: 'NOT_FOUND',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'OVERLOADED',
  503: 'UNAVAILABLE',
};

function reasonPhrase(status: number): string {
  const name = HttpStatus[status] as string | undefined;
  if (!name) return status === 499 ? 'Client Closed Request' : 'Error';
  return name
    .toLowerCase()
    .split('_')
    .map((w) => w[0].toUpperCase() + w.slice(1))
    .join(' ');
}

/**
 * Every error leaves as `{ statusCode, error, message, code, requestId }` with a stable code
 * (STYLE.md #6). Domain errors map by code; unknown ones become 500 INTERNAL and are logged once,
 * with the request id, without leaking their message.
 */
@Catch()
export class KeelExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('Errors');

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const req = http.getRequest<KeelRequest>();
    const res = http.getResponse<Response>();
    const requestId = req.id ?? req.keel?.requestId ?? 'unknown';
    const error = this.toKeelError(exception, requestId);
    if (res.headersSent) {
      // A streamed response that failed midway: the status is gone; end the stream.
      res.end();
      return;
    }
    if (error.retryAfterSeconds !== undefined) {
      res.setHeader('Retry-After', String(Math.max(1, Math.ceil(error.retryAfterSeconds))));
    }
    const status = ERROR_STATUS[error.code];
    res.status(status).json({
      statusCode: status,
      error: reasonPhrase(status),
      message: error.message,
      code: error.code,
      requestId,
      ...(error.details ? { details: error.details } : {}),
    });
  }

  private toKeelError(exception: unknown, requestId: string): KeelError {
    const known = toKeelError(exception);
    if (known) return known;
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const code = CODE_FOR_STATUS[status];
      if (code) return new KeelError(code, exception.message);
    }
    this.logger.error({ msg: 'unhandled error', err: exception, requestId });
    return new KeelError('INTERNAL', 'internal error; see the server log for this request id');
  }
}
