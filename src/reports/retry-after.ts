import { InjectQueue } from '@nestjs/bull';
import { Inject, Injectable } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import type { Queue } from 'bull';
import { QueueName } from '../common/jobs';
import { withTimeout } from '../common/with-timeout';
import { renderConfig } from '../config/configuration';
import { Report, ReportStatus } from './report.entity';
import { ReportsRepository } from './reports.repository';

export interface RetryAfterInput {
  /** Render jobs waiting or running ahead of this report (0 when it is itself running). */
  jobsAhead: number;
  /** Renders that run at once. */
  concurrency: number;
  /** Mean duration of recent renders, in ms. */
  meanRenderMs: number;
  /** How far this report's own render is, 0 to 100. */
  progress: number;
}

export const MIN_RETRY_AFTER_S = 1;
export const MAX_RETRY_AFTER_S = 60;

/**
 * When the report is likely to be done: the queue ahead drains `concurrency` at a time, then the
 * rest of this render. Clamped to 1..60 s so that clients neither hammer nor wait for nothing.
 */
export function estimateRetryAfter({
  jobsAhead,
  concurrency,
  meanRenderMs,
  progress,
}: RetryAfterInput): number {
  const waves = Math.floor(Math.max(0, jobsAhead) / Math.max(1, concurrency));
  const remainingOwn = 1 - Math.min(100, Math.max(0, progress)) / 100;
  const seconds = Math.ceil(((waves + remainingOwn) * Math.max(0, meanRenderMs)) / 1000);
  return Math.min(MAX_RETRY_AFTER_S, Math.max(MIN_RETRY_AFTER_S, seconds));
}

/** Assumed render time until the first reports have rendered. */
const DEFAULT_RENDER_MS = 2000;
/** How long the queue depth and mean render time are reused before being read again. */
const ESTIMATE_TTL_MS = 1000;
/** A request never waits on Redis longer than this for an estimate. */
const REDIS_WAIT_MS = 1000;

interface QueueEstimate {
  jobsAhead: number;
  meanRenderMs: number;
}

/** Retry-After for a report: the render queue's depth and the recent render times, read once a second. */
@Injectable()
export class RetryAfterEstimates {
  private estimate?: { at: number; value: Promise<QueueEstimate> };

  constructor(
    @InjectQueue(QueueName.ReportRender) private readonly queue: Queue,
    private readonly reports: ReportsRepository,
    @Inject(renderConfig.KEY) private readonly render: ConfigType<typeof renderConfig>,
  ) {}

  /** Seconds until the report is likely done. */
  async forReport(report: Pick<Report, 'status' | 'progress'>): Promise<number> {
    const { jobsAhead, meanRenderMs } = await this.queueEstimate();
    return estimateRetryAfter({
      jobsAhead: report.status === ReportStatus.Pending ? jobsAhead : 0,
      concurrency: this.render.concurrency,
      meanRenderMs,
      progress: report.progress,
    });
  }

  /** Read at most once per ESTIMATE_TTL_MS: polls arriving meanwhile share the read in flight. */
  private queueEstimate(): Promise<QueueEstimate> {
    if (!this.estimate || Date.now() - this.estimate.at >= ESTIMATE_TTL_MS) {
      this.estimate = { at: Date.now(), value: this.readQueueEstimate() };
    }
    return this.estimate.value;
  }

  private async readQueueEstimate(): Promise<QueueEstimate> {
    const [counts, meanRenderMs] = await Promise.all([
      withTimeout(this.queue.getJobCounts(), REDIS_WAIT_MS, 'job counts').catch(() => null),
      this.reports.recentMeanRenderMs().catch(() => undefined),
    ]);
    return {
      jobsAhead: counts ? Math.max(0, counts.waiting + counts.active + counts.delayed - 1) : 0,
      meanRenderMs: meanRenderMs ?? DEFAULT_RENDER_MS,
    };
  }
}
