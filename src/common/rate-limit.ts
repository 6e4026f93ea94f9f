import { ExecutionContext, Injectable, SetMetadata } from '@nestjs/common';
import { ThrottlerGuard, ThrottlerLimitDetail, ThrottlerOptions } from '@nestjs/throttler';
import { ApiError, CommonErrorCode } from './api-error';
import { AuthenticatedClient } from './auth.guard';

const NO_RATE_LIMIT = 'no-rate-limit';
/** Leaves a controller or route out of every limit (health checks, metrics scrapes). */
export const NoRateLimit = () => SetMetadata(NO_RATE_LIMIT, true);

const STATUS_POLLING = 'status-polling-limit';
/** Puts a route under the status-polling limit (RATE_LIMIT_STATUS_PER_MINUTE) on top of the global one. */
export const StatusPollingLimit = () => SetMetadata(STATUS_POLLING, true);

/** Two limits per API key, counted in Redis so that they hold across API processes. */
export function rateLimits(perMinute: number, statusPerMinute: number): ThrottlerOptions[] {
  return [
    { name: 'all-routes', ttl: 60_000, limit: perMinute },
    {
      name: 'status-polling',
      ttl: 60_000,
      limit: statusPerMinute,
      skipIf: (context: ExecutionContext) =>
        Reflect.getMetadata(STATUS_POLLING, context.getHandler()) !== true,
    },
  ];
}

/** The seconds a refusal tells the client to wait (0 for anything else thrown). */
const retryAfter = (refusal: unknown) =>
  refusal instanceof ApiError ? Number(refusal.headers['Retry-After'] ?? 0) : 0;

@Injectable()
export class RateLimitGuard extends ThrottlerGuard {
  /**
   * Counts a request against each limit that applies to it at once, where ThrottlerGuard awaits one
   * count after the other: both Redis scripts leave in one write, and a poll waits for one round trip.
   * When both limits refuse, the answer is the one that makes the client wait longest. Only the
   * limits of rateLimits() are read: routes are left out with NoRateLimit(), not the library's
   * @SkipThrottle or @Throttle, which this guard does not read.
   */
  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (this.reflector.getAllAndOverride(NO_RATE_LIMIT, [context.getHandler(), context.getClass()]))
      return true;
    const applying = this.throttlers.filter((throttler) => !throttler.skipIf?.(context));
    const counts = await Promise.allSettled(
      applying.map((throttler) =>
        this.handleRequest({
          context,
          throttler,
          limit: throttler.limit as number,
          ttl: throttler.ttl as number,
          blockDuration: (throttler.blockDuration ?? throttler.ttl) as number,
          getTracker: this.commonOptions.getTracker!,
          generateKey: this.commonOptions.generateKey!,
        }),
      ),
    );
    const refusals = counts.flatMap((count) => (count.status === 'rejected' ? [count.reason] : []));
    if (refusals.length > 0) throw refusals.sort((a, b) => retryAfter(b) - retryAfter(a))[0];
    return true;
  }

  /**
   * Per client, as ApiKeyGuard (which runs first) found it behind the API key; per address on a
   * public route that is limited (none is today).
   */
  protected async getTracker(request: Record<string, unknown>): Promise<string> {
    const { client } = request as { client?: AuthenticatedClient };
    return client ? `client:${client.id}` : `ip:${String(request.ip)}`;
  }

  /** One bucket per limit and key, whatever the route: "600 per minute, all routes". */
  protected generateKey(_context: ExecutionContext, tracker: string, name: string): string {
    return `rate-limit:${name}:${tracker}`;
  }

  protected async throwThrottlingException(
    _context: ExecutionContext,
    detail: ThrottlerLimitDetail,
  ): Promise<void> {
    const retryAfter = Math.max(1, detail.timeToBlockExpire || detail.timeToExpire);
    throw new ApiError(
      429,
      CommonErrorCode.RateLimited,
      `Rate limit of ${detail.limit} requests per minute exceeded; retry after ${retryAfter} s`,
      undefined,
      { 'Retry-After': String(retryAfter) },
    );
  }
}
