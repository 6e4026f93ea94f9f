import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import Redis, { RedisOptions } from 'ioredis';
import { redisConfig } from '../config/configuration';

/**
 * The process's Redis connections, each opened on first use under its name (in CLIENT LIST, after
 * QUEUE_PREFIX, so that an operator or a test finds it) and all closed at shutdown. Connections
 * differ by their options, which decide what a call does while Redis is away; Bull keeps its own.
 */
@Injectable()
export class RedisConnections implements OnApplicationShutdown {
  private readonly opened = new Map<string, Redis>();

  constructor(@Inject(redisConfig.KEY) private readonly config: ConfigType<typeof redisConfig>) {}

  get prefix(): string {
    return this.config.queuePrefix;
  }

  /**
   * The connection named `name`, opened with `options` the first time. 'commands' is the one for
   * short commands that may wait for Redis to come back: every wait on it is bounded by its caller.
   */
  get(name: string, options: RedisOptions = {}): Redis {
    let redis = this.opened.get(name);
    if (!redis) {
      redis = new Redis(this.config.url, { connectionName: `${this.prefix}:${name}`, ...options });
      redis.on('error', () => undefined); // ioredis reconnects by itself; callers see the failures
      this.opened.set(name, redis);
    }
    return redis;
  }

  /** After the queues (a global module's hooks run last). Not QUIT: with Redis away it would hang. */
  onApplicationShutdown(): void {
    for (const redis of this.opened.values()) redis.disconnect();
  }
}
