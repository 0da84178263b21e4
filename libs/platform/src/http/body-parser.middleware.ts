import { Inject, Injectable, NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import express from 'express';
import { KeelError } from '@keel/contracts/jobs';
import { KEEL_CONFIG, type KeelConfig } from '../config/keel-config.js';

interface BodyParserError {
  type?: string;
  status?: number;
}

/**
 * JSON body parsing as Nest middleware (not Express's own), so that malformed or oversized bodies
 * become Keel errors with stable codes and pass through the same exception filter as the rest.
 */
@Injectable()
export class JsonBodyMiddleware implements NestMiddleware {
  private readonly parse: ReturnType<typeof express.json>;

  constructor(@Inject(KEEL_CONFIG) config: KeelConfig) {
    this.parse = express.json({ limit: config.http.bodyLimitBytes, strict: true });
  }

  use(req: Request, res: Response, next: NextFunction): void {
    // req.is() is null without a body and false when the body is of another type.
    if (req.is(['application/json', 'application/*+json']) === false) {
      next(
        new KeelError(
          'UNSUPPORTED_MEDIA_TYPE',
          `request bodies must be application/json, not '${req.headers['content-type'] ?? 'none'}'`,
        ),
      );
      return;
    }
    this.parse(req, res, (error?: unknown) => {
      if (!error) return next();
      const e = error as BodyParserError;
      if (e.type === 'entity.parse.failed') {
        return next(new KeelError('INVALID_JSON', 'the request body is not valid JSON'));
      }
      if (e.type === 'entity.too.large') {
        return next(
          new KeelError(
            'PAYLOAD_TOO_LARGE',
            'the request body is larger than the configured limit',
          ),
        );
      }
      if (e.type === 'encoding.unsupported' || e.type === 'charset.unsupported') {
        return next(
          new KeelError('UNSUPPORTED_MEDIA_TYPE', 'unsupported body encoding or charset'),
        );
      }
      next(error);
    });
  }
}
