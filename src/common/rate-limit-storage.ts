import { Logger } from '@nestjs/common';
import { ThrottlerStorageRedisService } from '@nest-lab/throttler-storage-redis';
import Redis from 'ioredis';

/**
 * Rate-limit counters in Redis, shared by every API process. When Redis is away the limit is not
 * enforced rather than the API stopping: commands fail at once (no offline queue) and the request
 * goes through, because Postgres, not Redis, is what a request needs.
 */
export class RateLimitStorage extends ThrottlerStorageRedisService {
  private readonly logger = new Logger(RateLimitStorage.name);

  /** `prefix` is QUEUE_PREFIX: processes that share it share their limits, as they share the work. */
  constructor(
    url: string,
    private readonly prefix: string,
  ) {
    super(
      new Redis(url, {
        enableOfflineQueue: false,
        maxRetriesPerRequest: 1,
        connectTimeout: 2000,
        // The limits of all the requests in flight go to Redis in one write.
        enableAutoPipelining: true,
      }),
    );
    this.disconnectRequired = true;
    this.redis.on('error', () => undefined); // reported once per failing request below
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

  async increment(key: string, ttl: number, limit: number, blockDuration: number, name: string) {
    try {
      return await super.increment(`${this.prefix}:${key}`, ttl, limit, blockDuration, name);
    } catch (error) {
      this.logger.warn(`Rate limit not enforced, Redis unavailable: ${String(error)}`);
      return { totalHits: 0, timeToExpire: 0, isBlocked: false, timeToBlockExpire: 0 };
    }
  }
}
