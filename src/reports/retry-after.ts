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
