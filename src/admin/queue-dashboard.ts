import { createBullBoard } from '@bull-board/api';
import { BullAdapter } from '@bull-board/api/bullAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import { getQueueToken } from '@nestjs/bull';
import { getStorageToken } from '@nestjs/throttler';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { Queue } from 'bull';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { createHash, timingSafeEqual } from 'node:crypto';
import { ApiError, CommonErrorCode } from '../common/api-error';
import { sendApiError } from '../common/error.filter';
import { QueueName } from '../common/jobs';
import { addressBlock } from '../common/rate-limit';
import type { FailureCount, RateLimitStorage } from '../common/rate-limit-storage';

export const QUEUE_DASHBOARD_PATH = '/admin/queues';
/**
 * Failed admin-token attempts an address (an IPv6 address's /64) may make per minute; after them,
 * every request of the address is refused (429) for a minute, its token unchecked: guessing the
 * token is slow.
 */
export const ADMIN_LOGIN_ATTEMPTS_PER_MINUTE = 10;
const MINUTE_MS = 60_000;

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

function tooManyFailedLogins(retryAfterSeconds: number): ApiError {
  return new ApiError(
    429,
    CommonErrorCode.RateLimited,
    `Too many failed admin logins from this address; retry after ${retryAfterSeconds} s`,
    { headers: { 'Retry-After': String(retryAfterSeconds) } },
  );
}

/**
 * Serves the Bull dashboard of both queues at /admin/queues, behind the admin token, its failed
 * attempts limited per address. Registered straight on Fastify, inside its own scope, so the token
 * check covers every dashboard route and nothing else.
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
  const unavailable = ApiError.unavailable('Admin logins cannot be checked right now; retry later');
  // Failed logins are counted with the rate limits' counters: in Redis, shared by every API process.
  const counters = app.get<RateLimitStorage>(getStorageToken(), { strict: false });
  await app.register(async (scope: FastifyInstance) => {
    scope.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
      const { authorization } = request.headers;
      // A request with no credentials guesses nothing (a browser asks without them first).
      if (authorization === undefined) {
        sendApiError(reply, unauthorized);
        return reply;
      }
      const address = `admin-login:${addressBlock(request.ip)}`;
      const right = carriesToken(authorization, token);
      // A wrong token is counted before it is answered, in one step in Redis: of a burst, the first
      // N are answered 401 and the rest 429. The right token counts nothing, and opens only while
      // fewer than N have failed. Without Redis nothing can be counted: refused, not let through.
      let failed: FailureCount;
      try {
        failed = right
          ? await counters.failures(address)
          : await counters.countFailure(address, ADMIN_LOGIN_ATTEMPTS_PER_MINUTE, MINUTE_MS);
      } catch {
        sendApiError(reply, unavailable);
        return reply;
      }
      const locked = right
        ? failed.count >= ADMIN_LOGIN_ATTEMPTS_PER_MINUTE
        : failed.count > ADMIN_LOGIN_ATTEMPTS_PER_MINUTE;
      if (locked) {
        sendApiError(reply, tooManyFailedLogins(Math.max(1, failed.retryAfterSeconds)));
        return reply;
      }
      if (right) return;
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
