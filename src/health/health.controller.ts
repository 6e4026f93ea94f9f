import { Controller, Get, OnApplicationBootstrap } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import {
  HealthCheck,
  HealthCheckResult,
  HealthCheckService,
  HealthIndicatorService,
  TypeOrmHealthIndicator,
} from '@nestjs/terminus';
import type { FastifyInstance } from 'fastify';
import { ApiError } from '../common/api-error';
import { Public } from '../common/auth';
import { HealthCheckOf } from '../common/health-check';
import { ApiErrorResponse, RETRY_AFTER, UNEXPECTED_ERROR } from '../common/openapi';
import { withTimeout } from '../common/with-timeout';

const TIMEOUT_MS = 3000;
/** What @HealthCheck({ noCache: true }) sets on the route's answer. */
const NO_CACHE = 'no-cache, no-store, must-revalidate';
/** A check's answer is given again for this long: a flood of /health costs one check a second. */
const REUSE_MS = 1000;

interface Ping {
  name: string;
  ping: () => Promise<unknown>;
}

/** The answer when a dependency is down: 503, naming it. */
const notHealthy = (down: string[]) =>
  ApiError.unavailable(`Not healthy: ${down.join(', ') || 'unknown'} does not answer`);

const up = { status: 'up' };
/** Terminus's answer: each dependency's state, in `info` when up and `error` when down. */
const states = {
  type: 'object',
  additionalProperties: {
    type: 'object',
    required: ['status'],
    properties: { status: { type: 'string', enum: ['up', 'down'] }, message: { type: 'string' } },
  },
};
const HEALTHY = {
  type: 'object',
  required: ['status', 'info', 'error', 'details'],
  properties: {
    status: { type: 'string', enum: ['ok'] },
    info: states,
    error: states,
    details: states,
  },
  example: {
    status: 'ok',
    info: { postgres: up, redis: up, chromium: up },
    error: {},
    details: { postgres: up, redis: up, chromium: up },
  },
};

@ApiTags('operations')
@ApiErrorResponse(500, [UNEXPECTED_ERROR])
@Public()
@Controller('health')
export class HealthController implements OnApplicationBootstrap {
  /** Postgres is checked here; every other dependency by the feature that needs it (HealthCheckOf). */
  private pings: Ping[] = [];
  private last?: { at: number; result: Promise<HealthCheckResult> };
  /** The last check's answer once it came, serialised, while healthy. */
  private healthy?: { until: number; body: string };

  constructor(
    private readonly health: HealthCheckService,
    private readonly indicator: HealthIndicatorService,
    private readonly database: TypeOrmHealthIndicator,
    private readonly discovery: DiscoveryService,
  ) {}

  onApplicationBootstrap(): void {
    this.pings = this.discovery.getProviders({ metadataKey: HealthCheckOf.KEY }).map((wrapper) => {
      const checked = wrapper.instance as { ping(): Promise<unknown> };
      return {
        name: this.discovery.getMetadataByDecorator(HealthCheckOf, wrapper)!,
        ping: () => checked.ping(),
      };
    });
  }

  @Get()
  @HealthCheck({ noCache: true, swaggerDocumentation: false })
  @ApiOperation({
    summary: '200 when Postgres, Redis and Chromium answer; 503 naming the one that does not',
    description:
      'Chromium is checked in the processes that render (APP_ROLE all or worker); the bucket ' +
      '(`bucket`: it answers and takes a write) when PDFs are kept in object storage.',
    security: [],
  })
  @ApiOkResponse({ description: 'Every dependency answers', schema: HEALTHY })
  @ApiErrorResponse(503, [notHealthy(['redis'])], RETRY_AFTER)
  check(): Promise<HealthCheckResult> {
    if (!this.last || Date.now() - this.last.at >= REUSE_MS) {
      // Reused while it runs, and for REUSE_MS after its end: a slow check is not run twice.
      const last = { at: Infinity, result: this.checkNow() };
      void last.result.then(
        (result) => {
          last.at = Date.now();
          this.healthy = { until: last.at + REUSE_MS, body: JSON.stringify(result) };
        },
        () => {
          last.at = Date.now();
          this.healthy = undefined;
        },
      );
      this.last = last;
    }
    return this.last.result;
  }

  /**
   * Answers GET /health from Fastify's first hook while the last check is healthy and under
   * REUSE_MS old: the same answer as the route's, without Nest's guards, pipes and interceptors
   * (a flood of /health costs about a third less, and holds the polls behind it less). Anything
   * else (a check due, a check that failed) goes to the route.
   */
  answerFromLastCheck(fastify: FastifyInstance): void {
    fastify.addHook('onRequest', (request, reply, done) => {
      const healthy = this.healthy;
      if (
        request.method !== 'GET' ||
        request.url !== '/health' ||
        !healthy ||
        Date.now() >= healthy.until
      ) {
        done();
        return;
      }
      void reply
        .header('cache-control', NO_CACHE)
        .type('application/json; charset=utf-8')
        .send(healthy.body);
    });
  }

  private async checkNow(): Promise<HealthCheckResult> {
    try {
      return await this.health.check([
        () => this.database.pingCheck('postgres', { timeout: TIMEOUT_MS }),
        ...this.pings.map((ping) => () => this.probe(ping)),
      ]);
    } catch (error) {
      throw notHealthy(
        Object.keys((error as { response?: { error?: object } }).response?.error ?? {}),
      );
    }
  }

  private async probe({ name, ping }: Ping) {
    const check = this.indicator.check(name);
    try {
      await withTimeout(ping(), TIMEOUT_MS, name);
      return check.up();
    } catch {
      return check.down({ message: `${name} does not answer` });
    }
  }
}
