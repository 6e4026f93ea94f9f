import { Inject, Injectable } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { renderConfig } from '../../config/configuration';
import { ReportStatusRead } from '../store/report.entity';
import { ReportsRepository } from '../store/reports.repository';

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

/** Seconds until the report is likely done: the queue ahead drains `concurrency` at a time, then the rest of this render. */
export function secondsToCompletion({
  jobsAhead,
  concurrency,
  meanRenderMs,
  progress,
}: RetryAfterInput): number {
  const waves = Math.floor(Math.max(0, jobsAhead) / Math.max(1, concurrency));
  const remainingOwn = 1 - Math.min(100, Math.max(0, progress)) / 100;
  return ((waves + remainingOwn) * Math.max(0, meanRenderMs)) / 1000;
}

/** Retry-After: the seconds to completion, clamped to 1..60 s so that clients neither hammer nor wait for nothing. */
export function estimateRetryAfter(input: RetryAfterInput): number {
  const seconds = Math.ceil(secondsToCompletion(input));
  return Math.min(MAX_RETRY_AFTER_S, Math.max(MIN_RETRY_AFTER_S, seconds));
}

/** When an unfinished report is likely done, and when to ask again. */
export type Estimate = NonNullable<ReportStatusRead['estimate']>;

/** Assumed render time until the first reports have rendered. */
const DEFAULT_RENDER_MS = 2000;
/** How long the mean render time is reused before being read again. */
const MEAN_TTL_MS = 1000;

/**
 * Estimates from a report's place in the fair order (FairQueue's) and the mean of the recent
 * render times, read at most once a second.
 */
@Injectable()
export class RetryAfterEstimates {
  private mean?: { at: number; value: Promise<number> };

  constructor(
    private readonly reports: ReportsRepository,
    @Inject(renderConfig.KEY) private readonly render: ConfigType<typeof renderConfig>,
  ) {}

  /** For a report behind `jobsAhead` others (0 while it renders), `progress` percent into its render. */
  async estimate(jobsAhead: number, progress = 0): Promise<Estimate> {
    const input = {
      jobsAhead,
      concurrency: this.render.concurrency,
      meanRenderMs: await this.meanRenderMs(),
      progress,
    };
    return {
      retryAfter: estimateRetryAfter(input),
      completionAt: new Date(Date.now() + Math.ceil(secondsToCompletion(input) * 1000)),
    };
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
