import { Injectable, Logger } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { getQueueToken } from '@nestjs/bull';
import type { Queue } from 'bull';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { QueueName } from '../common/jobs';
import { withTimeout } from '../common/with-timeout';

const PREFIX = 'reports_';
const QUEUE_STATES = ['waiting', 'active', 'delayed', 'failed', 'completed'] as const;
/** A scrape must not hang while Redis is away: the queue gauge is then left out. */
const QUEUE_COUNT_TIMEOUT_MS = 1000;

/**
 * Every metric of the service, in a registry of its own: several applications may live in one
 * process (the e2e suite), and prom-client's global registry refuses a name registered twice.
 */
@Injectable()
export class MetricsService {
  private readonly logger = new Logger(MetricsService.name);
  readonly registry = new Registry();

  readonly httpDuration = new Histogram({
    name: `${PREFIX}http_request_duration_seconds`,
    help: 'HTTP request durations, by method, route pattern and status code',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  readonly renderDuration = new Histogram({
    name: `${PREFIX}render_duration_seconds`,
    help: 'Time from claiming a report to its PDF, for completed reports',
    buckets: [0.25, 0.5, 1, 2, 5, 10, 20, 40, 60, 120, 300],
    registers: [this.registry],
  });

  readonly renderPdfBytes = new Histogram({
    name: `${PREFIX}render_pdf_bytes`,
    help: 'Size of the finished PDFs',
    buckets: [16e3, 64e3, 256e3, 1e6, 4e6, 16e6, 64e6],
    registers: [this.registry],
  });

  readonly renders = new Counter({
    name: `${PREFIX}renders_total`,
    help: 'Reports that ended, by outcome',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly callbackAttempts = new Counter({
    name: `${PREFIX}callback_attempts_total`,
    help: "Callback attempts, by the event's state after the attempt (delivered, gone, retry, failed)",
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly chromiumRestarts = new Counter({
    name: `${PREFIX}chromium_restarts_total`,
    help: 'Chromium relaunches after a crash or disconnect (the first launch and recycles are not counted)',
    registers: [this.registry],
  });

  readonly chromiumRecycles = new Counter({
    name: `${PREFIX}chromium_recycles_total`,
    help: 'Chromium replaced by a fresh one, by reason: renders (RENDER_RECYCLE_AFTER) or memory (RENDER_RECYCLE_RSS_MB)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  constructor(moduleRef: ModuleRef) {
    const logger = this.logger;
    new Gauge({
      name: `${PREFIX}queue_jobs`,
      help: 'Jobs per queue and state, read from Redis at scrape time',
      labelNames: ['queue', 'state'] as const,
      registers: [this.registry],
      async collect() {
        this.reset();
        await Promise.all(
          Object.values(QueueName).map(async (name) => {
            try {
              const queue = moduleRef.get<Queue>(getQueueToken(name), { strict: false });
              const counts = await withTimeout(
                queue.getJobCounts(),
                QUEUE_COUNT_TIMEOUT_MS,
                `counting ${name} jobs`,
              );
              for (const state of QUEUE_STATES) this.set({ queue: name, state }, counts[state]);
            } catch (error) {
              logger.warn(`Queue ${name} left out of the metrics: ${String(error)}`);
            }
          }),
        );
      },
    });
    collectDefaultMetrics({ register: this.registry, prefix: PREFIX });
  }

  /** The Prometheus text exposition of every metric. */
  scrape(): Promise<string> {
    return this.registry.metrics();
  }
}
