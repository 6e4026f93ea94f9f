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
import { cursorInstantSql } from '../common/pagination';
import { JobData, QueueName } from '../common/queues';
import { withTimeout } from '../common/with-timeout';
import { appConfig, reportsConfig } from '../config/configuration';
import { ReportsService } from './reports.service';

/** Any fixed number: the advisory lock that lets one sweep run at a time across every worker. */
const SWEEP_LOCK = 724_201_102;
const NIL_UUID = '00000000-0000-0000-0000-000000000000';
/** Younger rows may still be on their way into Redis: leave them to the request that made them. */
const GRACE = '5 seconds';
/** Rows checked per pass and queue: one Redis round trip checks them all. */
export const SWEEP_BATCH = 1000;
const REDIS_WAIT_MS = 2000;

/** Where a pass stopped in a table: the next pass goes on from there. */
interface Cursor {
  /** The last row's timestamp, to the microsecond (cursorInstantSql). */
  at: string;
  id: string;
}

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
  /**
   * Each pass checks the SWEEP_BATCH rows after the last one the previous pass checked, and starts over
   * from the oldest once it reaches the end: a backlog larger than SWEEP_BATCH, whose oldest rows all
   * have their jobs, no longer hides the rows behind it.
   */
  private reportsAfter?: Cursor;
  private callbacksAfter?: Cursor;

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
          // Past REPORT_TTL_HOURS a PDF is deleted and its report says EXPIRED.
          expired: await this.reports.expire({ olderThanHours: this.config.ttlHours }),
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
    const rows = await this.dataSource.query<(Cursor & { id: string })[]>(
      `SELECT id, ${cursorInstantSql('created_at')} AS at FROM reports
        WHERE status IN ('PENDING', 'IN_PROGRESS') AND created_at < now() - interval '${GRACE}'
          AND (created_at, id) > ($1::timestamptz, $2::uuid)
        ORDER BY created_at, id LIMIT ${SWEEP_BATCH}`,
      [this.reportsAfter?.at ?? '-infinity', this.reportsAfter?.id ?? NIL_UUID],
    );
    // A job that exists, in any state, is Bull's to finish (a dead worker's job is "stalled").
    const missing = await this.withoutJob(
      this.renderQueue,
      rows.map(({ id }) => ({ id, jobId: id })),
    );
    for (const id of missing) await this.reports.enqueue(id);
    // Only once the batch is checked: a pass that failed checks it again.
    this.reportsAfter = rows.length === SWEEP_BATCH ? rows[rows.length - 1] : undefined;
    return missing.length;
  }

  private async requeueCallbacks(): Promise<number> {
    const rows = await this.dataSource.query<(Cursor & { attempts: number })[]>(
      `SELECT id, attempts, ${cursorInstantSql('next_attempt_at')} AS at FROM callback_events
        WHERE status = 'PENDING' AND next_attempt_at < now() - interval '${GRACE}'
          AND (next_attempt_at, id) > ($1::timestamptz, $2)
        ORDER BY next_attempt_at, id LIMIT ${SWEEP_BATCH}`,
      [this.callbacksAfter?.at ?? '-infinity', this.callbacksAfter?.id ?? ''],
    );
    const next = new Map(rows.map(({ id, attempts }) => [id, attempts + 1]));
    const missing = await this.withoutJob(
      this.deliveryQueue,
      rows.map(({ id, attempts }) => ({ id, jobId: `${id}:${attempts + 1}` })),
    );
    for (const id of missing) {
      await withTimeout(this.callbacks.enqueue(id, next.get(id)!), REDIS_WAIT_MS, 'enqueue');
    }
    this.callbacksAfter = rows.length === SWEEP_BATCH ? rows[rows.length - 1] : undefined;
    return missing.length;
  }

  /** The rows whose job Bull does not hold, in any state: one pipelined round trip to Redis. */
  private async withoutJob(
    queue: Queue<unknown>,
    rows: Array<{ id: string; jobId: string }>,
  ): Promise<string[]> {
    if (rows.length === 0) return [];
    const pipeline = queue.client.pipeline();
    for (const { jobId } of rows) pipeline.exists(queue.toKey(jobId));
    const answers = (await withTimeout(pipeline.exec(), REDIS_WAIT_MS, 'checking jobs')) ?? [];
    return rows
      .filter((_, i) => {
        const [error, exists] = answers[i] ?? [new Error('no answer'), null];
        if (error) throw error;
        return exists === 0;
      })
      .map(({ id }) => id);
  }
}
