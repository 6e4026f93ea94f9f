import { Logger } from '@nestjs/common';
import { ThrottlerStorageRedisService } from '@nest-lab/throttler-storage-redis';
import type { Redis, RedisOptions } from 'ioredis';
import { withTimeout } from './with-timeout';

/** A count of failures in its window, and the seconds left of that window (0: no window). */
export interface FailureCount {
  count: number;
  retryAfterSeconds: number;
}

/**
 * Counts one failure, atomically: the window starts at the first failure and starts again at the
 * `limit`-th, so that an address that reached it waits a whole window.
 */
const COUNT_FAILURE = `
local count = redis.call('INCR', KEYS[1])
if count == 1 or count == tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return {count, redis.call('PTTL', KEYS[1])}`;
const READ_FAILURES = `return {tonumber(redis.call('GET', KEYS[1]) or '0'), redis.call('PTTL', KEYS[1])}`;
/** Past this, a count is treated as Redis not answering. */
const FAILURE_COUNT_TIMEOUT_MS = 2000;

/**
 * Rate-limit counters in Redis, shared by every API process. When Redis is away the limit is not
 * enforced rather than the API stopping: commands fail at once (no offline queue) and the request
 * goes through, because Postgres, not Redis, is what a request needs. Failure counts (admin logins)
 * are the exception: they fail, and their caller refuses.
 */
export class RateLimitStorage extends ThrottlerStorageRedisService {
  private readonly logger = new Logger(RateLimitStorage.name);

  /** What `redis` is opened with: failures are reported once per failing request below. */
  static readonly connection: RedisOptions = {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    // The limits of all the requests in flight go to Redis in one write.
    enableAutoPipelining: true,
  };

  /** `prefix` is QUEUE_PREFIX: processes that share it share their limits, as they share the work. */
  constructor(
    redis: Redis,
    private readonly prefix: string,
  ) {
    super(redis);
  }

  /**
   * Seconds left of the block that increment() put on `key` for the limit `name` (0: none), read
   * without counting a hit. The key is the one the library's increment() writes.
   */
  async blockedFor(key: string, name: string): Promise<number> {
    try {
      const left = await this.redis.pttl(`{${this.prefix}:${key}:${name}}:blocked`);
      return left > 0 ? Math.ceil(left / 1000) : 0;
    } catch (error) {
      this.logger.warn(`Rate limit not enforced, Redis unavailable: ${String(error)}`);
      return 0;
    }
  }

  /**
   * Counts a failure under `key` (an attempt that must stay rare, such as a wrong admin token) and
   * answers the count in its window. Unlike increment(), it fails when Redis does not answer: the
   * caller refuses rather than lets guesses through uncounted.
   */
  async countFailure(key: string, limit: number, windowMs: number): Promise<FailureCount> {
    return this.failureCount(COUNT_FAILURE, key, windowMs, limit);
  }

  /** The failures counted under `key` in its window, without counting one; fails without Redis. */
  async failures(key: string): Promise<FailureCount> {
    return this.failureCount(READ_FAILURES, key);
  }

  private async failureCount(script: string, key: string, ...args: number[]) {
    const [count, ttl] = (await withTimeout(
      this.redis.eval(script, 1, `${this.prefix}:failures:${key}`, ...args),
      FAILURE_COUNT_TIMEOUT_MS,
      'failure count',
    )) as [number, number];
    return { count, retryAfterSeconds: ttl > 0 ? Math.ceil(ttl / 1000) : 0 };
  }

  async increment(key: string, ttl: number, limit: number, blockDuration: number, name: string) {
    try {
      return await super.increment(`${this.prefix}:${key}`, ttl, limit, blockDuration, name);
    } catch (error) {
      this.logger.warn(`Rate limit not enforced, Redis unavailable: ${String(error)}`);
      return { totalHits: 0, timeToExpire: 0, isBlocked: false, timeToBlockExpire: 0 };
    }
  }
}
