import { ExecutionContext, Injectable, SetMetadata } from '@nestjs/common';
import { isIPv4, isIPv6 } from 'node:net';
import { ThrottlerGuard, ThrottlerLimitDetail, ThrottlerOptions } from '@nestjs/throttler';
import { ApiError } from './api-error';
import { AuthenticatedClient } from './auth';

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
   * When both limits refuse, the answer is the one that makes the client wait longest. Limits are
   * per client: a public route (health, metrics), which has none, is not limited. Only the limits of
   * rateLimits() are read, not the library's @SkipThrottle or @Throttle.
   */
  async canActivate(context: ExecutionContext): Promise<boolean> {
    const { client } = context.switchToHttp().getRequest<{ client?: AuthenticatedClient }>();
    if (!client) return true;
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

  /** The client ApiKeyGuard (which runs first) found behind the API key. */
  protected async getTracker(request: Record<string, unknown>): Promise<string> {
    return `client:${(request as { client: AuthenticatedClient }).client.id}`;
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
    throw ApiError.rateLimited(detail.limit, retryAfter);
  }
}

/**
 * The address a per-address limit counts against: an IPv4 address as it is, an IPv6 address's /64
 * (`2001:db8:0:1::/64`), since one subscriber usually holds a whole /64 and could otherwise rotate
 * through its addresses. An IPv4-mapped IPv6 address counts as its IPv4 address.
 */
export function addressBlock(ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip)?.[1];
  if (mapped && isIPv4(mapped)) return mapped;
  const address = ip.split('%')[0]; // without its zone
  if (!isIPv6(address)) return ip;
  // The dotted IPv4 tail of an address such as ::1.2.3.4 is its last two groups.
  const groups = address.replace(/(\d+)\.(\d+)\.(\d+)\.(\d+)$/, (_, a, b, c, d) =>
    [(a << 8) | b, (c << 8) | d].map((group: number) => group.toString(16)).join(':'),
  );
  const [head, tail] = groups.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const zeros = tail === undefined ? [] : Array(8 - left.length - right.length).fill('0');
  const prefix = [...left, ...zeros, ...right].slice(0, 4);
  return `${prefix.map((group) => parseInt(group, 16).toString(16)).join(':')}::/64`;
}
