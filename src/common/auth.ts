import { createParamDecorator, ExecutionContext, SetMetadata } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';

export const PUBLIC_ROUTE = 'public-route';
/** Marks a route that needs no API key (health, metrics). Every other route does. */
export const Public = () => SetMetadata(PUBLIC_ROUTE, true);

/** Who is calling: all a route needs to know of the client behind the API key. */
export interface AuthenticatedClient {
  id: string;
}

/** A request once the API-key guard (clients/api-key.guard.ts) has found its client. */
export type AuthenticatedRequest = FastifyRequest & { client?: AuthenticatedClient };

/** The authenticated client of the request. */
export const CurrentClient = createParamDecorator(
  (_data: unknown, context: ExecutionContext): AuthenticatedClient =>
    context.switchToHttp().getRequest<AuthenticatedRequest>().client as AuthenticatedClient,
);
