import { InjectQueue } from '@nestjs/bull';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import type { Queue } from 'bull';
import {
  addJob,
  JobData,
  QueueName,
  REDIS_WAIT_MS,
  renderJob,
  RequeueSweep,
} from '../../common/jobs';
import { HealthCheckOf } from '../../common/health-check';
import { withTimeout } from '../../common/with-timeout';
import { renderConfig } from '../../config/configuration';
import { FairQueue, QueuedItem } from '../../fair-queue/fair-queue';
import { Position } from '../../common/pagination';
import { ReportsRepository } from '../store/reports.repository';

/**
 * The reports' render jobs in Bull. Postgres holds every unfinished report: a job Redis did not
 * take, or lost, is queued again by the sweep.
 */
@Injectable()
@HealthCheckOf('redis')
export class RenderQueue {
  private readonly logger = new Logger(RenderQueue.name);
  private readonly sweep: RequeueSweep<Position & QueuedItem>;

  constructor(
    reports: ReportsRepository,
    private readonly fairQueue: FairQueue,
    @InjectQueue(QueueName.ReportRender)
    private readonly queue: Queue<JobData[QueueName.ReportRender]>,
    @Inject(renderConfig.KEY) private readonly render: ConfigType<typeof renderConfig>,
  ) {
    this.sweep = new RequeueSweep(queue, reports.unfinished.bind(reports), ({ id }) => id);
  }

  /** /health's check of Redis: the queue's own connection. */
  ping(): Promise<unknown> {
    return this.queue.client.ping();
  }

  /**
   * Queues the render. When Redis does not answer the report is still accepted: it is in Postgres,
   * and the sweep queues it once Redis is back.
   */
  async add(reportId: string, turn: number): Promise<void> {
    const job = renderJob(reportId, this.render.attempts, turn);
    await withTimeout(addJob(this.queue, job), REDIS_WAIT_MS, 'enqueue').catch((error: unknown) =>
      this.warn(reportId, `not queued now (${String(error)}); the sweep will queue it`),
    );
  }

  /** A cancelled report's job: a waiting one is dropped; a running one finds its report gone. */
  async drop(reportId: string): Promise<void> {
    await withTimeout(this.queue.getJob(reportId), REDIS_WAIT_MS, 'getJob')
      .then(async (job) => job && !(await job.isActive()) && (await job.remove()))
      .catch((error: unknown) => this.warn(reportId, `its job was not removed (${String(error)})`));
  }

  /**
   * The sweep's part: queues again the next `batch` unfinished reports whose job Redis does not
   * hold, and puts back in the fair queue those it lost. Answers how many were queued.
   */
  requeueUnfinished(batch: number): Promise<number> {
    return this.sweep.pass(batch, async (lost, checked) => {
      for (const { id, fairRound } of lost) await this.add(id, fairRound);
      await this.fairQueue.restore(checked);
    });
  }

  private warn(reportId: string, what: string): void {
    this.logger.warn({ reportId, msg: `Report ${reportId}: ${what}` });
  }
}
