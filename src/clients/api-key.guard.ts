import { CanActivate, ExecutionContext, Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { Reflector } from '@nestjs/core';
import { InjectThrottlerStorage } from '@nestjs/throttler';
import type { FastifyRequest } from 'fastify';
import { LRUCache } from 'lru-cache';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApiError } from '../common/api-error';
import { AuthenticatedRequest, PUBLIC_ROUTE } from '../common/auth';
import { addressBlock } from '../common/rate-limit';
import { RateLimitStorage } from '../common/rate-limit-storage';
import { rateLimitConfig } from '../config/configuration';
import { RedisChannel } from '../redis/redis-channel';
import { RedisConnections } from '../redis/redis-connections';
import { API_KEY_SHAPE, hashApiKey } from './api-key';
import { ClientsRepository } from './clients.repository';

/**
 * How long a known key's client id is reused without asking Postgres (only ids are kept: no name,
 * no secret). A poll no longer pays a query to find its client. A rotation or a revocation is heard
 * through Redis at once (apiKeyChanges); a rotated-out key is kept no longer than its grace period.
 */
const KEY_CACHE_TTL_MS = 60_000;
const KEY_CACHE_SIZE = 10_000;
/**
 * How long an unknown key is answered 401 without asking Postgres again: a revoked key, a typo or a
 * client retrying in a loop costs one query, not one per request.
 */
const UNKNOWN_KEY_TTL_MS = 30_000;

/**
 * "This client's keys changed" (rotated or revoked), published by the admin CLI: every API process
 * forgets them within about a second (without Redis, within a minute anyway).
 */
export const apiKeyChanges = (connections: RedisConnections) =>
  new RedisChannel(connections, 'api-keys-changed');

/** The SHA-256 of the request's bearer API key; undefined without one, or one of the wrong shape. */
function apiKeyHash(request: FastifyRequest): string | undefined {
  const token = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '')?.[1];
  return token && API_KEY_SHAPE.test(token) ? hashApiKey(token) : undefined;
}

const MINUTE_MS = 60_000;
/** The per-address limit's name in the rate-limit storage. */
const UNAUTHENTICATED = 'unauthenticated';
/**
 * How often, at most, a process reads the hashes of every valid key: once per this, while made-up
 * keys arrive from addresses over their limit (and not at all otherwise).
 */
const KEY_HASHES_INTERVAL_MS = 1000;

/**
 * The hashes of every valid key, read from Postgres on demand and at most once per
 * KEY_HASHES_INTERVAL_MS, so that a flood of made-up keys costs one read a second, not one lookup
 * each, while a key created a moment ago is still found.
 */
class KeyHashes {
  private last?: { startedAt: number; hashes: Promise<Set<string>> };
  private next?: Promise<Set<string>>;

  constructor(private readonly clients: ClientsRepository) {}

  /**
   * Whether `keyHash` may open a client, for a request that arrived at `arrival`: present in a
   * read (to be confirmed by a lookup, as the key may have been revoked since), or absent from a
   * read begun after the request arrived.
   */
  async mayExist(keyHash: string, arrival: number): Promise<boolean> {
    const last = this.last;
    if (last && last.startedAt >= arrival) return (await last.hashes).has(keyHash);
    if ((await last?.hashes.catch(() => undefined))?.has(keyHash)) return true;
    return (await this.readAfter(arrival)).has(keyHash);
  }

  private readAfter(arrival: number): Promise<Set<string>> {
    if (this.last && this.last.startedAt >= arrival) return this.last.hashes;
    if (!this.next) {
      const wait = this.last ? this.last.startedAt + KEY_HASHES_INTERVAL_MS - Date.now() : 0;
      this.next = sleep(Math.max(0, wait)).then(() => {
        const hashes = this.clients.keyHashes().then((list) => new Set(list));
        this.last = { startedAt: Date.now(), hashes };
        this.next = undefined;
        return hashes;
      });
    }
    return this.next;
  }

  /** Keys may have been created or revoked unheard: the next read is not postponed. */
  forget(): void {
    this.last = undefined;
  }
}

/**
 * Every route but the @Public() ones needs a valid API key; the request then carries its client.
 * Requests that fail to authenticate (no key, a malformed, unknown or revoked one) are counted
 * against their address (an IPv6 address's /64), RATE_LIMIT_UNAUTHENTICATED_PER_MINUTE, in Redis;
 * a valid key never is. Past the limit, a key not known here is looked up only if it is among the
 * hashes of valid keys (KeyHashes): made-up keys are refused 429 without a lookup, and a valid key
 * from the same address (behind a proxy, every client's) still gets through.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate, OnModuleInit {
  private readonly clientIds = new LRUCache<string, string>({
    max: KEY_CACHE_SIZE,
    ttl: KEY_CACHE_TTL_MS,
  });
  private readonly unknownKeys = new LRUCache<string, true>({
    max: KEY_CACHE_SIZE,
    ttl: UNKNOWN_KEY_TTL_MS,
  });
  private readonly keyHashes: KeyHashes;

  /**
   * Lookups under way, by key hash: the requests of one key that arrive together (a client's burst
   * when its cache entry has just expired, or on a fresh process) share one lookup.
   */
  private readonly lookups = new Map<string, Promise<string | undefined>>();
  /**
   * Lookups charged to each address by this process in the last minute: begun, less those that
   * found a client. An address whose count reached its limit is treated as over it even before
   * Redis says so, so that a burst of made-up keys sent at once costs no more lookups than the limit.
   */
  private readonly lookupsCharged = new LRUCache<string, number>({
    max: KEY_CACHE_SIZE,
    ttl: MINUTE_MS,
    noUpdateTTL: true,
  });
  /**
   * Key changes heard so far: a lookup that saw one arrive while it ran answers its request but
   * caches nothing (it may have read the row before the change committed).
   */
  private keyChanges = 0;

  private readonly keyEvents: RedisChannel;

  constructor(
    private readonly reflector: Reflector,
    private readonly clients: ClientsRepository,
    @InjectThrottlerStorage() private readonly counters: RateLimitStorage,
    @Inject(rateLimitConfig.KEY) private readonly limits: ConfigType<typeof rateLimitConfig>,
    connections: RedisConnections,
  ) {
    this.keyEvents = apiKeyChanges(connections);
    this.keyHashes = new KeyHashes(clients);
  }

  /**
   * A client whose keys changed: every key of it this process remembers is looked up again. After
   * the subscription was down (changes published meanwhile are lost), every key is.
   */
  onModuleInit(): void {
    void this.keyEvents.subscribe(
      (clientId) => {
        this.keyChanges += 1;
        for (const [keyHash, id] of this.clientIds.entries()) {
          if (id === clientId) this.clientIds.delete(keyHash);
        }
      },
      () => {
        this.keyChanges += 1;
        this.clientIds.clear();
        this.keyHashes.forget();
      },
    );
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const isPublic = this.reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (isPublic) return true;
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const keyHash = apiKeyHash(request);
    const known = keyHash && this.clientIds.get(keyHash);
    const clientId = known || (await this.authenticate(addressBlock(request.ip), keyHash));
    if (!clientId) throw ApiError.unauthorized();
    request.client = { id: clientId };
    return true;
  }

  /** The client of a key not known here yet; undefined (401) or 429 when there is none. */
  private async authenticate(address: string, keyHash: string | undefined): Promise<string> {
    const arrival = Date.now();
    if (!keyHash || this.unknownKeys.has(keyHash)) return this.failed(address);
    const limit = this.limits.unauthenticatedPerMinute;
    const blockedFor = await this.counters.blockedFor(
      `${UNAUTHENTICATED}:${address}`,
      UNAUTHENTICATED,
    );
    // The key's lookup under way or just done (a client's burst) answers this request too.
    const found = this.clientIds.get(keyHash);
    if (found) return found;
    const underWay = this.lookups.get(keyHash);
    if (underWay) return (await underWay) ?? this.failed(address);
    const charged = this.lookupsCharged.get(address) ?? 0;
    const overLimit = blockedFor > 0 || charged >= limit;
    if (overLimit && !(await this.keyHashes.mayExist(keyHash, arrival))) {
      this.unknownKeys.set(keyHash, true);
      return this.failed(address, blockedFor > 0 ? blockedFor : undefined);
    }
    if (!overLimit) this.lookupsCharged.set(address, charged + 1);
    const clientId = await this.lookUpOnce(keyHash);
    if (!clientId) return this.failed(address);
    // A valid key costs its address nothing.
    const left = this.lookupsCharged.get(address);
    if (!overLimit && left) this.lookupsCharged.set(address, left - 1);
    return clientId;
  }

  /**
   * A request that did not authenticate, counted against its address: refused 429 past the limit
   * (`refused` is the wait when the address is known to be over it already), else 401.
   */
  private async failed(address: string, refused?: number): Promise<never> {
    const limit = this.limits.unauthenticatedPerMinute;
    // Blocked from the limit-th failure on, so that the next one is refused before any lookup.
    const count = await this.counters.increment(
      `${UNAUTHENTICATED}:${address}`,
      MINUTE_MS,
      limit - 1,
      MINUTE_MS,
      UNAUTHENTICATED,
    );
    if (refused || count.totalHits > limit) {
      const wait = refused ?? Math.max(1, count.timeToBlockExpire || count.timeToExpire);
      throw ApiError.rateLimited(limit, wait);
    }
    throw ApiError.unauthorized();
  }

  /** The key's lookup, shared by the requests that arrive while it runs. */
  private lookUpOnce(keyHash: string): Promise<string | undefined> {
    let lookup = this.lookups.get(keyHash);
    if (!lookup) {
      lookup = this.lookUp(keyHash).finally(() => this.lookups.delete(keyHash));
      this.lookups.set(keyHash, lookup);
    }
    return lookup;
  }

  /** The client of a key, from Postgres; an unknown key is remembered as such for a while. */
  private async lookUp(keyHash: string): Promise<string | undefined> {
    const changesBefore = this.keyChanges;
    const client = await this.clients.byKeyHash(keyHash);
    if (this.keyChanges !== changesBefore) return client?.id;
    if (!client) {
      this.unknownKeys.set(keyHash, true);
      return undefined;
    }
    const graceLeft = client.validUntil ? client.validUntil.getTime() - Date.now() : Infinity;
    this.clientIds.set(keyHash, client.id, {
      ttl: Math.max(1, Math.min(KEY_CACHE_TTL_MS, graceLeft)),
    });
    return client.id;
  }
}
