import { Inject, Injectable, NestMiddleware } from '@nestjs/common';
import type { NextFunction, Response } from 'express';
import { KEEL_CONFIG, type KeelConfig } from '../config/keel-config.js';
import type { KeelRequest } from './request-context.js';

/** Deadline header a caller may send to ask for less time than the server's default. */
export const TIMEOUT_HEADER = 'x-keel-timeout-ms';

@Injectable()
export class RequestContextMiddleware implements NestMiddleware {
  constructor(@Inject(KEEL_CONFIG) private readonly config: KeelConfig) {}

  use(req: KeelRequest, res: Response, next: NextFunction): void {
    const max = this.config.http.requestTimeoutMs;
    const asked = Number(req.headers[TIMEOUT_HEADER]);
    const budget = Number.isFinite(asked) && asked > 0 ? Math.min(asked, max) : max;
    const controller = new AbortController();
    const timer = setTimeout(
      () => controller.abort(new DOMException('deadline exceeded', 'TimeoutError')),
      budget,
    );
    timer.unref();
    const done = () => clearTimeout(timer);
    res.once('finish', done);
    // 'close' without 'finish' means the client went away before the answer: stop the work.
    res.once('close', () => {
      done();
      if (!res.writableFinished) {
        controller.abort(new DOMException('client disconnected', 'AbortError'));
      }
    });
    req.keel = { requestId: req.id, deadline: Date.now() + budget, signal: controller.signal };
    next();
  }
}
