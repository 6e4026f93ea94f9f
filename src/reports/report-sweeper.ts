import { InjectQueue } from '@nestjs/bull';
import {
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnModuleDestroy,
} from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Queue } from 'bull';
import { DataSource } from 'typeorm';
import { CallbacksService } from '../callbacks/callbacks.service';
import { JobData, QueueName } from '../common/queues';
import { withTimeout } from '../common/with-timeout';
import { appConfig, reportsConfig } from '../config/configuration';
import { ReportsService } from './reports.service';

/** Any fixed number: the advisory lock that lets one sweep run at a time across every worker. */
const SWEEP_LOCK = 724_201_102;
/** Younger rows may still be on their way into Redis: leave them to the request that made them. */
const GRACE = '5 seconds';
const BATCH = 500;
const REDIS_WAIT_MS = 2000;

/**
 * Postgres is the source of truth and Redis a queue that may forget (a restart empties it). Every
 * SWEEP_INTERVAL_MS, one worker re-enqueues what Postgres says is due and Redis does not hold:
 * unfinished reports and undelivered callback events. It also expires PDFs past REPORT_TTL_HOURS.
 */
@Injectable()
export class ReportSweeper implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(ReportSweeper.name);
  private timer?: NodeJS.Timeout;
  private running?: Promise<unknown>;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @InjectQueue(QueueName.ReportRender)
    private readonly renderQueue: Queue<JobData[QueueName.ReportRender]>,
    @InjectQueue(QueueName.CallbackDelivery)
    private readonly deliveryQueue: Queue<JobData[QueueName.CallbackDelivery]>,
    private readonly reports: ReportsService,
    private readonly callbacks: CallbacksService,
    @Inject(appConfig.KEY) private readonly app: ConfigType<typeof appConfig>,
    @Inject(reportsConfig.KEY) private readonly config: ConfigType<typeof reportsConfig>,
  ) {}

  onApplicationBootstrap(): void {
    if (this.app.role === 'api') return;
    this.timer = setInterval(() => {
      this.running ??= this.sweep()
        .catch((error: unknown) => this.logger.warn(`Sweep failed: ${String(error)}`))
        .finally(() => (this.running = undefined));
    }, this.config.sweepIntervalMs);
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** One pass; returns at once when another process holds the sweep. */
  async sweep(): Promise<{ reports: number; callbacks: number; expired: number }> {
    const runner = this.dataSource.createQueryRunner();
    await runner.connect();
    try {
      const [{ locked }] = await runner.query('SELECT pg_try_advisory_lock($1) AS locked', [
        SWEEP_LOCK,
      ]);
      if (!locked) return { reports: 0, callbacks: 0, expired: 0 };
      try {
        const result = {
          reports: await this.requeueReports(),
          callbacks: await this.requeueCallbacks(),
          expired: await this.expireReports(),
        };
        if (result.reports || result.callbacks || result.expired) {
          this.logger.log(
            `Sweep: ${result.reports} report(s) and ${result.callbacks} callback(s) queued again, ` +
              `${result.expired} report(s) expired`,
          );
        }
        return result;
      } finally {
        await runner.query('SELECT pg_advisory_unlock($1)', [SWEEP_LOCK]);
      }
    } finally {
      await runner.release();
    }
  }

  private async requeueReports(): Promise<number> {
    const rows = await this.dataSource.query<{ id: string }[]>(
      `SELECT id FROM reports
        WHERE status IN ('PENDING', 'IN_PROGRESS') AND created_at < now() - interval '${GRACE}'
        ORDER BY created_at LIMIT ${BATCH}`,
    );
    let queued = 0;
    for (const { id } of rows) {
      // A job that exists, in any state, is Bull's to finish (a dead worker's job is "stalled").
      if (await withTimeout(this.renderQueue.getJob(id), REDIS_WAIT_MS, 'getJob')) continue;
      await this.reports.enqueue(id);
      queued += 1;
    }
    return queued;
  }

  private async requeueCallbacks(): Promise<number> {
    const rows = await this.dataSource.query<{ id: string; attempts: number }[]>(
      `SELECT id, attempts FROM callback_events
        WHERE status = 'PENDING' AND next_attempt_at < now() - interval '${GRACE}'
        ORDER BY next_attempt_at LIMIT ${BATCH}`,
    );
    let queued = 0;
    for (const { id, attempts } of rows) {
      const jobId = `${id}:${attempts + 1}`;
      if (await withTimeout(this.deliveryQueue.getJob(jobId), REDIS_WAIT_MS, 'getJob')) continue;
      await withTimeout(this.callbacks.enqueue(id, attempts + 1), REDIS_WAIT_MS, 'enqueue');
      queued += 1;
    }
    return queued;
  }

  /** Past REPORT_TTL_HOURS a PDF is deleted and its report says EXPIRED. */
  private async expireReports(): Promise<number> {
    const [{ count }] = await this.dataSource.query<{ count: number }[]>(
      `WITH expired AS (
         UPDATE reports SET status = 'EXPIRED', updated_at = now()
          WHERE status = 'COMPLETED' AND completed_at < now() - make_interval(hours => $1)
          RETURNING id
       ), deleted AS (
         DELETE FROM report_file_chunks WHERE report_id IN (SELECT id FROM expired) RETURNING 1
       )
       SELECT count(*)::int AS count FROM expired`,
      [this.config.ttlHours],
    );
    return count;
  }
}
