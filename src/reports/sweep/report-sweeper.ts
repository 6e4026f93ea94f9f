import {
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnModuleDestroy,
} from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { CallbacksService } from '../../callbacks/callbacks.service';
import { reportsConfig } from '../../config/configuration';
import { FairQueue } from '../../fair-queue/fair-queue';
import { RenderQueue } from '../admission/render-queue';
import { ReportRetention } from '../store/report-retention';
import { ReportsRepository } from '../store/reports.repository';

export interface SweepResult {
  reports: number;
  /** Places in the fair queue left behind by a crash, taken out. */
  untracked: number;
  callbacks: number;
  expired: number;
  /** Expired PDFs whose chunks were deleted, their grace over. */
  purged: number;
  /** Finished reports deleted, REPORT_RETENTION_DAYS after they finished. */
  deleted: number;
}

/** Any fixed number: the advisory lock that lets one sweep run at a time across every worker. */
const SWEEP_LOCK = 724_201_102;
/**
 * Rows checked per pass and queue: one Redis round trip checks them all. Each pass goes on after
 * the last row the previous one checked, and starts over from the oldest at the end, so that a
 * backlog larger than this, whose oldest rows all have their jobs, does not hide the rows behind it.
 */
export const SWEEP_BATCH = 1000;

/**
 * Postgres is the source of truth and Redis a queue that may forget (a restart empties it). Every
 * SWEEP_INTERVAL_MS, one worker re-enqueues what Postgres says is due and Redis does not hold:
 * unfinished reports and undelivered callback events. It also expires PDFs past REPORT_TTL_HOURS,
 * deletes expired PDFs once their grace is over, and finished reports past REPORT_RETENTION_DAYS.
 */
@Injectable()
export class ReportSweeper implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(ReportSweeper.name);
  private timer?: NodeJS.Timeout;
  private running?: Promise<unknown>;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly reports: ReportsRepository,
    private readonly renderQueue: RenderQueue,
    private readonly queue: FairQueue,
    private readonly callbacks: CallbacksService,
    private readonly retention: ReportRetention,
    @Inject(reportsConfig.KEY) private readonly config: ConfigType<typeof reportsConfig>,
  ) {}

  onApplicationBootstrap(): void {
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
  async sweep(): Promise<SweepResult> {
    const runner = this.dataSource.createQueryRunner();
    await runner.connect();
    try {
      const [{ locked }] = await runner.query('SELECT pg_try_advisory_lock($1) AS locked', [
        SWEEP_LOCK,
      ]);
      if (!locked) {
        return { reports: 0, untracked: 0, callbacks: 0, expired: 0, purged: 0, deleted: 0 };
      }
      try {
        const result = {
          reports: await this.renderQueue.requeueUnfinished(SWEEP_BATCH),
          // What a crash or a lost Redis left wrong in the fair queue's numbers.
          untracked: await this.queue.reconcile(),
          callbacks: await this.callbacks.requeueDue(SWEEP_BATCH),
          // Past REPORT_TTL_HOURS a report says EXPIRED; its PDF is deleted after a grace.
          expired: await this.reports.expire({ olderThanHours: this.retention.pdfTtlHours }),
          purged: await this.retention.purgeExpiredPdfs(SWEEP_BATCH),
          deleted: await this.retention.deleteFinished(SWEEP_BATCH),
        };
        if (Object.values(result).some((count) => count > 0)) {
          this.logger.log(
            `Sweep: ${result.reports} report(s) and ${result.callbacks} callback(s) queued again, ` +
              `${result.untracked} stale place(s) in the fair queue dropped, ` +
              `${result.expired} report(s) expired, ${result.purged} expired PDF(s) deleted, ` +
              `${result.deleted} finished report(s) deleted`,
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
}
