import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import { LRUCache } from 'lru-cache';
import { ApiError } from '../common/api-error';
import { AuthenticatedRequest, PUBLIC_ROUTE } from '../common/auth';
import { hashApiKey } from './api-key';
import { ClientsRepository } from './clients.repository';

/**
 * How long a known key's client id is reused without asking Postgres. Keys are never reassigned
 * and only ids are kept (no name, no secret), so the cache changes nothing but the cost of a
 * request: a poll no longer pays a query to find its client.
 */
const KEY_CACHE_TTL_MS = 60_000;
const KEY_CACHE_SIZE = 10_000;
/**
 * How long an unknown key is answered 401 without asking Postgres again: a revoked key, a typo or a
 * client retrying in a loop costs one query, not one per request. (Keys are made by the server and
 * shown once, so a key unknown now is never valid later.)
 */
const UNKNOWN_KEY_TTL_MS = 30_000;

/** The SHA-256 of the request's bearer API key, or undefined without one. */
function apiKeyHash(request: FastifyRequest): string | undefined {
  const token = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '')?.[1];
  return token ? hashApiKey(token) : undefined;
}

/** Every route but the @Public() ones needs a valid API key; the request then carries its client. */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  private readonly clientIds = new LRUCache<string, string>({
    max: KEY_CACHE_SIZE,
    ttl: KEY_CACHE_TTL_MS,
  });
  private readonly unknownKeys = new LRUCache<string, true>({
    max: KEY_CACHE_SIZE,
    ttl: UNKNOWN_KEY_TTL_MS,
  });

  constructor(
    private readonly reflector: Reflector,
    private readonly clients: ClientsRepository,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const isPublic = this.reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (isPublic) return true;
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const keyHash = apiKeyHash(request);
    const clientId = keyHash ? await this.clientId(keyHash) : undefined;
    if (!clientId) throw ApiError.unauthorized();
    request.client = { id: clientId };
    return true;
  }

  private async clientId(keyHash: string): Promise<string | undefined> {
    const cached = this.clientIds.get(keyHash);
    if (cached || this.unknownKeys.has(keyHash)) return cached;
    const id = await this.clients.idByKeyHash(keyHash);
    if (id) this.clientIds.set(keyHash, id);
    else this.unknownKeys.set(keyHash, true);
    return id;
  }
}
