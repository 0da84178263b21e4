import { Inject, Injectable, NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import express from 'express';
import { KeelError } from '@keel/contracts/jobs';
import { KEEL_CONFIG, type KeelConfig } from '../config/keel-config.js';

interface BodyParserError {
  type?: string;
  status?: number;
}

const JSON_TYPES = ['application/json', 'application/*+json'];

type Parser = ReturnType<typeof express.json>;

/** Runs a body-parser parser, mapping its failures to Keel errors with stable codes. */
function parseWith(parse: Parser, req: Request, res: Response, next: NextFunction): void {
  // req.is() is null without a body and false when the body is of another type.
  if (req.is(JSON_TYPES) === false) {
    next(
      new KeelError(
        'UNSUPPORTED_MEDIA_TYPE',
        `request bodies must be application/json, not '${req.headers['content-type'] ?? 'none'}'`,
      ),
    );
    return;
  }
  parse(req, res, (error?: unknown) => {
    if (!error) return next();
    const e = error as BodyParserError;
    if (e.type === 'entity.parse.failed') {
      return next(new KeelError('INVALID_JSON', 'the request body is not valid JSON'));
    }
    if (e.type === 'entity.too.large') {
      return next(
        new KeelError('PAYLOAD_TOO_LARGE', 'the request body is larger than the configured limit'),
      );
    }
    if (e.type === 'encoding.unsupported' || e.type === 'charset.unsupported') {
      return next(new KeelError('UNSUPPORTED_MEDIA_TYPE', 'unsupported body encoding or charset'));
    }
    next(error);
  });
}

/** Runs one body-parser parser as Nest middleware; the subclasses say which. */
abstract class BodyMiddleware implements NestMiddleware {
  protected constructor(private readonly parse: Parser) {}

  use(req: Request, res: Response, next: NextFunction): void {
    parseWith(this.parse, req, res, next);
  }
}

/**
 * JSON body parsing as Nest middleware (not Express's own), so that malformed or oversized bodies
 * become Keel errors with stable codes and pass through the same exception filter as the rest.
 */
@Injectable()
export class JsonBodyMiddleware extends BodyMiddleware {
  constructor(@Inject(KEEL_CONFIG) config: KeelConfig) {
    super(express.json({ limit: config.http.bodyLimitBytes, strict: true }));
  }
}

/**
 * For routes whose bodies can be megabytes (documents, rerank candidates, passages to pack): the
 * JSON body is read but not parsed, and `req.body` is its bytes (a Buffer; undefined without a
 * body). Parsing and validating 7 MB of JSON takes ~40 ms of CPU, which the route does off the
 * event loop instead. The same limit, media types and error codes as JsonBodyMiddleware; only
 * UTF-8 (JSON's own encoding).
 */
@Injectable()
export class RawJsonBodyMiddleware extends BodyMiddleware {
  constructor(@Inject(KEEL_CONFIG) config: KeelConfig) {
    super(express.raw({ limit: config.http.bodyLimitBytes, type: JSON_TYPES }));
  }

  override use(req: Request, res: Response, next: NextFunction): void {
    const charset = /;\s*charset\s*=\s*"?([^";\s]+)/iu.exec(req.headers['content-type'] ?? '')?.[1];
    if (charset !== undefined && !/^utf-?8$/iu.test(charset)) {
      next(new KeelError('UNSUPPORTED_MEDIA_TYPE', 'unsupported body encoding or charset'));
      return;
    }
    super.use(req, res, next);
  }
}
