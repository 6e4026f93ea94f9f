import {
  CanActivate,
  ExecutionContext,
  Inject,
  Injectable,
  OnModuleDestroy,
  OnModuleInit,
} from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { Reflector } from '@nestjs/core';
import { InjectThrottlerStorage, ThrottlerStorage } from '@nestjs/throttler';
import type { FastifyRequest } from 'fastify';
import { LRUCache } from 'lru-cache';
import { ApiError } from '../common/api-error';
import { AuthenticatedRequest, PUBLIC_ROUTE } from '../common/auth';
import { rateLimitConfig, redisConfig } from '../config/configuration';
import { ApiKeyEvents } from './api-key-events';
import { API_KEY_SHAPE, hashApiKey } from './api-key';
import { ClientsRepository } from './clients.repository';

/**
 * How long a known key's client id is reused without asking Postgres (only ids are kept: no name,
 * no secret). A poll no longer pays a query to find its client. A rotation or a revocation is heard
 * through Redis at once (ApiKeyEvents); a rotated-out key is kept no longer than its grace period.
 */
const KEY_CACHE_TTL_MS = 60_000;
const KEY_CACHE_SIZE = 10_000;
/**
 * How long an unknown key is answered 401 without asking Postgres again: a revoked key, a typo or a
 * client retrying in a loop costs one query, not one per request.
 */
const UNKNOWN_KEY_TTL_MS = 30_000;

/** The SHA-256 of the request's bearer API key; undefined without one, or one of the wrong shape. */
function apiKeyHash(request: FastifyRequest): string | undefined {
  const token = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '')?.[1];
  return token && API_KEY_SHAPE.test(token) ? hashApiKey(token) : undefined;
}

const MINUTE_MS = 60_000;

/**
 * Every route but the @Public() ones needs a valid API key; the request then carries its client. A
 * request whose key is not already known here (missing, malformed, unknown, or not yet looked up)
 * is first counted against its address (RATE_LIMIT_UNAUTHENTICATED_PER_MINUTE, in Redis): past the
 * limit it is refused 429 before any Postgres lookup, so made-up keys cannot load the database.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate, OnModuleInit, OnModuleDestroy {
  private readonly clientIds = new LRUCache<string, string>({
    max: KEY_CACHE_SIZE,
    ttl: KEY_CACHE_TTL_MS,
  });
  private readonly unknownKeys = new LRUCache<string, true>({
    max: KEY_CACHE_SIZE,
    ttl: UNKNOWN_KEY_TTL_MS,
  });

  /**
   * Lookups under way, by key hash: the requests of one key that arrive together (a client's burst
   * when its cache entry has just expired, or on a fresh process) share one lookup and one count
   * against the address, instead of spending the address's limit on a valid key.
   */
  private readonly lookups = new Map<string, Promise<string | undefined>>();
  /**
   * Key changes heard so far: a lookup that saw one arrive while it ran answers its request but
   * caches nothing (it may have read the row before the change committed).
   */
  private keyChanges = 0;

  private readonly keyEvents: ApiKeyEvents;

  constructor(
    private readonly reflector: Reflector,
    private readonly clients: ClientsRepository,
    @InjectThrottlerStorage() private readonly counters: ThrottlerStorage,
    @Inject(rateLimitConfig.KEY) private readonly limits: ConfigType<typeof rateLimitConfig>,
    @Inject(redisConfig.KEY) redis: ConfigType<typeof redisConfig>,
  ) {
    this.keyEvents = new ApiKeyEvents(redis.url, redis.queuePrefix);
  }

  /**
   * A client whose keys changed: every key of it this process remembers is looked up again. After
   * the subscription was down (changes published meanwhile are lost), every key is.
   */
  onModuleInit(): void {
    this.keyEvents.subscribe(
      (clientId) => {
        this.keyChanges += 1;
        for (const [keyHash, id] of this.clientIds.entries()) {
          if (id === clientId) this.clientIds.delete(keyHash);
        }
      },
      () => {
        this.keyChanges += 1;
        this.clientIds.clear();
      },
    );
  }

  onModuleDestroy(): void {
    this.keyEvents.close();
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
    const clientId = known || (await this.lookUpOnce(request.ip, keyHash));
    if (!clientId) throw ApiError.unauthorized();
    request.client = { id: clientId };
    return true;
  }

  private lookUpOnce(address: string, keyHash: string | undefined): Promise<string | undefined> {
    if (!keyHash) return this.lookUp(address, undefined);
    // Per address too: each address is counted against its own limit.
    const shared = `${address} ${keyHash}`;
    let lookup = this.lookups.get(shared);
    if (!lookup) {
      lookup = this.lookUp(address, keyHash).finally(() => this.lookups.delete(shared));
      this.lookups.set(shared, lookup);
    }
    return lookup;
  }

  /** The client of a key not known here yet, once its address is within its limit. */
  private async lookUp(address: string, keyHash: string | undefined): Promise<string | undefined> {
    const limit = this.limits.unauthenticatedPerMinute;
    const count = await this.counters.increment(
      `unauthenticated:${address}`,
      MINUTE_MS,
      limit,
      MINUTE_MS,
      'unauthenticated',
    );
    if (count.isBlocked) {
      throw ApiError.rateLimited(limit, Math.max(1, count.timeToBlockExpire || count.timeToExpire));
    }
    if (!keyHash || this.unknownKeys.has(keyHash)) return undefined;
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
