import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { DynamicModule, Module } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import type { KeelConfig } from '../config/keel-config.js';
import { LOG_REDACTION } from './redaction.js';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The request id: the caller's `x-request-id` when it is sane, otherwise a new UUID. */
export function requestIdOf(req: IncomingMessage, res: ServerResponse): string {
  const given = req.headers['x-request-id'];
  const id = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
  res.setHeader('x-request-id', id);
  return id;
}

/** JSON logs (pino) with the request id on every line and secrets redacted (STYLE.md #7). */
@Module({})
export class LoggingModule {
  static forRoot(config: KeelConfig): DynamicModule {
    return {
      module: LoggingModule,
      imports: [
        LoggerModule.forRoot({
          pinoHttp: {
            level: config.logLevel,
            genReqId: requestIdOf,
            customProps: (req) => ({ requestId: req.id }),
            redact: LOG_REDACTION,
            autoLogging: {
              ignore: (req) =>
                req.url === '/health/live' || req.url === '/health/ready' || req.url === '/metrics',
            },
            serializers: {
              req: (req: { id: string; method: string; url: string }) => ({
                id: req.id,
                method: req.method,
                url: req.url,
              }),
            },
          },
        }),
      ],
      exports: [LoggerModule],
    };
  }
}
