import { ExecutionContext, Injectable, SetMetadata } from '@nestjs/common';
import { ThrottlerGuard, ThrottlerLimitDetail, ThrottlerOptions } from '@nestjs/throttler';
import type { FastifyRequest } from 'fastify';
import { ApiError, CommonErrorCode } from './api-error';
import { apiKeyHash } from './auth.guard';

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

@Injectable()
export class RateLimitGuard extends ThrottlerGuard {
  /** Per API key (its hash, never the key), else per address for requests without one. */
  protected async getTracker(request: Record<string, unknown>): Promise<string> {
    const keyHash = apiKeyHash(request as unknown as FastifyRequest);
    return keyHash ? `key:${keyHash}` : `ip:${String(request.ip)}`;
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
