import { createBullBoard } from '@bull-board/api';
import { BullAdapter } from '@bull-board/api/bullAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import { getQueueToken } from '@nestjs/bull';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { Queue } from 'bull';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { createHash, timingSafeEqual } from 'node:crypto';
import { ApiError } from '../common/api-error';
import { sendApiError } from '../common/error.filter';
import { QueueName } from '../common/jobs';

export const QUEUE_DASHBOARD_PATH = '/admin/queues';

/**
 * Whether an Authorization header carries the admin token: as a bearer token, or as the password
 * of HTTP Basic (any user name) so that a person can open the dashboard in a browser.
 */
export function carriesToken(authorization: string | undefined, token: string): boolean {
  const [scheme, value] = (authorization ?? '').trim().split(/\s+/, 2);
  let given: string | undefined;
  if (/^bearer$/i.test(scheme ?? '')) given = value;
  else if (/^basic$/i.test(scheme ?? '') && value) {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    given = colon >= 0 ? decoded.slice(colon + 1) : undefined;
  }
  if (!given) return false;
  // Digests of equal length, compared in constant time: the time taken tells nothing of the token,
  // its length included.
  const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();
  return timingSafeEqual(digest(given), digest(token));
}

/**
 * Serves the Bull dashboard of both queues at /admin/queues, behind the admin token. Registered
 * straight on Fastify, inside its own scope, so the token check covers every dashboard route and
 * nothing else.
 */
export async function mountQueueDashboard(
  app: NestFastifyApplication,
  token: string,
): Promise<void> {
  const board = new FastifyAdapter();
  board.setBasePath(QUEUE_DASHBOARD_PATH);
  createBullBoard({
    queues: Object.values(QueueName).map(
      (name) => new BullAdapter(app.get<Queue>(getQueueToken(name), { strict: false })),
    ),
    serverAdapter: board,
  });
  const unauthorized = ApiError.unauthorized(
    'The admin token is required (Authorization: Bearer <ADMIN_TOKEN>, or Basic with it as password)',
  );
  unauthorized.headers['WWW-Authenticate'] = 'Basic realm="queues"';
  await app.register(async (scope: FastifyInstance) => {
    scope.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
      if (carriesToken(request.headers.authorization, token)) return;
      sendApiError(reply, unauthorized);
      return reply;
    });
    // Job data is never kept by a browser or a proxy. Set last, over the assets' own Cache-Control.
    scope.addHook('onSend', async (_request, reply) => {
      void reply.header('cache-control', 'no-store');
    });
    await scope.register(board.registerPlugin(), { prefix: QUEUE_DASHBOARD_PATH });
  });
}
