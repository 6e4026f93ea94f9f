import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';

/**
 * One JSON line per HTTP answer, written from Fastify's onResponse hook: the request id, method, URL
 * and address, the status and the time taken. No header and no body is logged, so no API key or
 * cookie can be. A hook rather than pino-http's middleware: that ran every request through middie
 * and an AsyncLocalStorage, which cost the status route about a third of its CPU per poll.
 */
export function logRequests(fastify: FastifyInstance, logger: Logger): void {
  fastify.addHook('onResponse', (request, reply, done) => {
    const failed = reply.statusCode >= 500;
    logger[failed ? 'error' : 'info'](
      {
        req: {
          id: request.id,
          method: request.method,
          url: request.url,
          remoteAddress: request.ip,
        },
        res: { statusCode: reply.statusCode },
        responseTime: Math.round(reply.elapsedTime),
      },
      failed ? 'request failed' : 'request completed',
    );
    done();
  });
}
