import { Inject, Injectable } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import type Redis from 'ioredis';
import { callbacksConfig } from '../config/configuration';
import { RedisConnections } from '../redis/redis-connections';

/** Whether a delivery may go now. */
export type Slot = 'taken' | 'waiting' | 'in-flight';

/** A waiting attempt older than this gives up its place: one that was lost cannot block its client. */
const WAITING_FOR_MS = 5 * 60_000;

/**
 * Takes a slot for `member` when the client has fewer than `max` in flight and no older attempt
 * waits; otherwise puts it in the client's line (keeping its place if it is in it already).
 * Leases expire, so that a worker that dies mid-delivery frees its slot.
 * KEYS: slots, waiting. ARGV: member, now, lease expiry, max, waiting-since bound.
 */
const TAKE = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[5])
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 'in-flight' end
local oldest = redis.call('ZRANGE', KEYS[2], 0, 0)[1]
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[4]) and (not oldest or oldest == ARGV[1]) then
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('PEXPIREAT', KEYS[1], ARGV[3])
  return 'taken'
end
redis.call('ZADD', KEYS[2], 'NX', ARGV[2], ARGV[1])
redis.call('PEXPIRE', KEYS[2], ${WAITING_FOR_MS})
return 'waiting'`;

/** Frees the slot, and answers the client's oldest waiting attempt (left in line until it takes a slot). */
const RELEASE = `
redis.call('ZREM', KEYS[1], ARGV[1])
return redis.call('ZRANGE', KEYS[2], 0, 0)[1]`;

type SlotCommands = Redis & {
  takeCallbackSlot(...args: string[]): Promise<Slot>;
  releaseCallbackSlot(...args: string[]): Promise<string | null>;
};

/**
 * At most CALLBACK_MAX_IN_FLIGHT_PER_CLIENT deliveries of one client in flight, across every
 * worker (leases in Redis), so that a partner that never answers delays only its own client's
 * callbacks. An attempt without a slot holds no worker: it waits in its client's line, first come
 * first served, and is queued again as soon as one of the client's deliveries ends (or by the
 * sweep, which queues again every due event Redis holds no job for).
 */
@Injectable()
export class CallbackSlots {
  private readonly redis: SlotCommands;
  private readonly prefix: string;

  constructor(
    connections: RedisConnections,
    @Inject(callbacksConfig.KEY) private readonly config: ConfigType<typeof callbacksConfig>,
  ) {
    this.prefix = `${connections.prefix}:callback-slots`;
    // The scripts are loaded once on the process's connection for commands.
    this.redis = connections.get('commands') as SlotCommands;
    if (typeof this.redis.takeCallbackSlot !== 'function') {
      this.redis.defineCommand('takeCallbackSlot', { numberOfKeys: 2, lua: TAKE });
      this.redis.defineCommand('releaseCallbackSlot', { numberOfKeys: 2, lua: RELEASE });
    }
  }

  /** `attempt` is `<eventId>:<attempt>`: one attempt holds one slot, whoever runs it. */
  take(clientId: string, attempt: string): Promise<Slot> {
    const now = Date.now();
    // Longer than an attempt can last (its timeout), with room to record it.
    const leaseUntil = now + this.config.timeoutMs + 30_000;
    return this.redis.takeCallbackSlot(
      ...this.keys(clientId),
      attempt,
      String(now),
      String(leaseUntil),
      String(this.config.maxInFlightPerClient),
      String(now - WAITING_FOR_MS),
    );
  }

  /** Frees the attempt's slot; answers the client's attempt that waits longest, if any. */
  async release(clientId: string, attempt: string): Promise<string | undefined> {
    return (await this.redis.releaseCallbackSlot(...this.keys(clientId), attempt)) ?? undefined;
  }

  /** Takes an attempt that will not be made (its event settled meanwhile) out of the line. */
  async leaveLine(clientId: string, attempt: string): Promise<void> {
    await this.redis.zrem(this.keys(clientId)[1], attempt);
  }

  private keys(clientId: string): [string, string] {
    return [`${this.prefix}:${clientId}:in-flight`, `${this.prefix}:${clientId}:waiting`];
  }
}
