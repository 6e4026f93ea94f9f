import {
  CanActivate,
  createParamDecorator,
  ExecutionContext,
  Injectable,
  SetMetadata,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { InjectRepository } from '@nestjs/typeorm';
import type { FastifyRequest } from 'fastify';
import { Repository } from 'typeorm';
import { hashApiKey } from '../clients/api-key';
import { Client } from '../clients/client.entity';
import { ApiError, CommonErrorCode } from './api-error';

const PUBLIC = 'public-route';
/** Marks a route that needs no API key (health, metrics). Every other route does. */
export const Public = () => SetMetadata(PUBLIC, true);

type AuthenticatedRequest = FastifyRequest & { client?: Client };

export function bearerToken(request: FastifyRequest): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '');
  return match?.[1];
}

@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    @InjectRepository(Client) private readonly clients: Repository<Client>,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const isPublic = this.reflector.getAllAndOverride<boolean>(PUBLIC, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (isPublic) return true;
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const token = bearerToken(request);
    const client = token ? await this.clients.findOneBy({ apiKeyHash: hashApiKey(token) }) : null;
    if (!client) {
      throw new ApiError(
        401,
        CommonErrorCode.Unauthorized,
        'A valid API key is required (Authorization: Bearer <api_key>)',
        undefined,
        { 'WWW-Authenticate': 'Bearer' },
      );
    }
    request.client = client;
    return true;
  }
}

/** The authenticated client of the request. */
export const CurrentClient = createParamDecorator(
  (_data: unknown, context: ExecutionContext): Client =>
    context.switchToHttp().getRequest<AuthenticatedRequest>().client as Client,
);
