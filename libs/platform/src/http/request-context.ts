import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';

/**
 * What a request carries down the stack: its id (also in every log line and job), its deadline and
 * an AbortSignal that fires when the deadline passes or the client goes away. Every outgoing call
 * and job takes this signal, so cancellation reaches the bottom.
 */
export interface RequestContext {
  requestId: string;
  /** Epoch milliseconds. */
  deadline: number;
  signal: AbortSignal;
}

export interface KeelRequest extends Request {
  id: string;
  keel?: RequestContext;
}

export const Ctx = createParamDecorator((_data: unknown, ctx: ExecutionContext): RequestContext => {
  const req = ctx.switchToHttp().getRequest<KeelRequest>();
  if (!req.keel) throw new Error('request context middleware is not installed');
  return req.keel;
});
