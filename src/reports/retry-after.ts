import { Inject, Injectable } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { renderConfig } from '../config/configuration';
import { ReadReport, ReportStatus } from './report.entity';
import { ReportsRepository } from './reports.repository';

export interface RetryAfterInput {
  /** Reports that render before this one (0 when it is itself rendering). */
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
/** How long the mean render time is reused before being read again. */
const MEAN_TTL_MS = 1000;

/**
 * Retry-After from a report's real place in the queue (fair order: ReportsRepository's jobsAhead)
 * and the mean of the recent render times, read at most once a second.
 */
@Injectable()
export class RetryAfterEstimates {
  private mean?: { at: number; value: Promise<number> };

  constructor(
    private readonly reports: ReportsRepository,
    @Inject(renderConfig.KEY) private readonly render: ConfigType<typeof renderConfig>,
  ) {}

  /** Seconds until the report is likely done. */
  forReport(report: Pick<ReadReport, 'status' | 'progress' | 'jobsAhead'>): Promise<number> {
    const ahead = report.status === ReportStatus.Pending ? (report.jobsAhead ?? 0) : 0;
    return this.estimate(ahead, report.progress);
  }

  /** Seconds until a report behind `jobsAhead` others would be done. */
  forQueue(jobsAhead: number): Promise<number> {
    return this.estimate(jobsAhead, 0);
  }

  private async estimate(jobsAhead: number, progress: number): Promise<number> {
    return estimateRetryAfter({
      jobsAhead,
      concurrency: this.render.concurrency,
      meanRenderMs: await this.meanRenderMs(),
      progress,
    });
  }

  /** Polls arriving within MEAN_TTL_MS share one read. */
  private meanRenderMs(): Promise<number> {
    if (!this.mean || Date.now() - this.mean.at >= MEAN_TTL_MS) {
      const value = this.reports
        .recentMeanRenderMs()
        .then((mean) => mean ?? DEFAULT_RENDER_MS)
        .catch(() => DEFAULT_RENDER_MS);
      this.mean = { at: Date.now(), value };
    }
    return this.mean.value;
  }
}
