import { CanActivate, ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { timingSafeEqual } from 'node:crypto';
import type { Request } from 'express';
import { KeelError } from '@keel/contracts';
import { KEEL_CONFIG, type KeelConfig } from '@keel/platform';

/**
 * Admin routes (deletes, later tool registration and Bull Board) need `Authorization: Bearer
 * <KEEL_ADMIN_TOKEN>` once a token is configured; without one they stay open, as in a local
 * embedded setup.
 */
@Injectable()
export class AdminGuard implements CanActivate {
  private readonly token?: Buffer;

  constructor(@Inject(KEEL_CONFIG) config: KeelConfig) {
    this.token = config.adminToken ? Buffer.from(config.adminToken) : undefined;
  }

  canActivate(context: ExecutionContext): boolean {
    if (!this.token) return true;
    const header = context.switchToHttp().getRequest<Request>().headers.authorization ?? '';
    const given = Buffer.from(header.startsWith('Bearer ') ? header.slice(7) : '');
    if (given.length === this.token.length && timingSafeEqual(given, this.token)) return true;
    throw new KeelError(
      'UNAUTHORIZED',
      'this route needs the admin token (Authorization: Bearer …)',
    );
  }
}
