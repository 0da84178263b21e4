import { timingSafeEqual } from 'node:crypto';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { NextFunction, Request, Response } from 'express';
import type { KeelConfig } from '@keel/platform';

export const BULL_BOARD_PATH = '/admin/queues';

function matches(given: string, token: Buffer): boolean {
  const g = Buffer.from(given);
  return g.length === token.length && timingSafeEqual(g, token);
}

/**
 * `Authorization: Bearer <KEEL_ADMIN_TOKEN>`, or HTTP Basic with the token as the password so a
 * browser can open the board (it asks once).
 */
function adminOnly(adminToken: string) {
  const token = Buffer.from(adminToken);
  return (req: Request, res: Response, next: NextFunction): void => {
    const header = req.headers.authorization ?? '';
    let ok = false;
    if (header.startsWith('Bearer ')) ok = matches(header.slice(7), token);
    else if (header.startsWith('Basic ')) {
      const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
      ok = matches(decoded.slice(decoded.indexOf(':') + 1), token);
    }
    if (ok) return next();
    res
      .status(401)
      .setHeader('WWW-Authenticate', 'Basic realm="keel admin", charset="UTF-8"')
      .json({
        statusCode: 401,
        error: 'Unauthorized',
        message: 'the queue board needs the admin token',
        code: 'UNAUTHORIZED',
      });
  };
}

/**
 * Bull Board at /admin/queues, in distributed mode and only with KEEL_ADMIN_TOKEN set: it can
 * retry, promote and remove jobs. Its queues have their own connection (the runner's fails fast
 * on purpose; the board may wait for Redis). Returns what closes them.
 */
export async function mountBullBoard(
  app: NestExpressApplication,
  config: KeelConfig,
): Promise<(() => Promise<void>) | undefined> {
  if (!config.redisUrl || !config.adminToken) return undefined;
  const [{ createBullBoard }, { BullMQAdapter }, { ExpressAdapter }, { Queue }, { Redis }, jobs] =
    await Promise.all([
      import('@bull-board/api'),
      import('@bull-board/api/bullMQAdapter'),
      import('@bull-board/express'),
      import('bullmq'),
      import('ioredis'),
      import('@keel/jobs/distributed'),
    ]);
  const connection = new Redis(config.redisUrl, { maxRetriesPerRequest: 1 });
  connection.on('error', () => undefined);
  const queues = jobs.WORKER_QUEUES.map(
    (name) => new Queue(name, { connection, prefix: config.queues.prefix }),
  );
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(BULL_BOARD_PATH);
  createBullBoard({ queues: queues.map((q) => new BullMQAdapter(q)), serverAdapter });
  app.use(BULL_BOARD_PATH, adminOnly(config.adminToken), serverAdapter.getRouter());
  return async () => {
    await Promise.allSettled(queues.map((q) => q.close()));
    connection.disconnect();
  };
}
