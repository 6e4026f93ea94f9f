import type { FastifyInstance } from 'fastify';
import { MetricsService } from './metrics.service';

/**
 * Times every HTTP answer, 404s and guard rejections included (a Nest interceptor would miss those).
 * The route label is the route's pattern, never the raw URL, so that its values stay few.
 */
export function recordHttpMetrics(fastify: FastifyInstance, metrics: MetricsService): void {
  fastify.addHook('onResponse', (request, reply, done) => {
    metrics.httpDuration.observe(
      {
        method: request.method,
        route: request.routeOptions.url ?? 'unmatched',
        status_code: String(reply.statusCode),
      },
      reply.elapsedTime / 1000,
    );
    done();
  });
}
