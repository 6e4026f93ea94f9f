/** Every queue in one place, with the data each job carries: ids, never documents. */
export enum QueueName {
  ReportRender = 'report-render',
  CallbackDelivery = 'callback-delivery',
}

export interface JobData {
  [QueueName.ReportRender]: { reportId: string };
  /** One job per attempt: `attempt` is 1-based and the job id is `${eventId}:${attempt}`. */
  [QueueName.CallbackDelivery]: { eventId: string; attempt: number };
}

/**
 * On SIGTERM a worker stops taking jobs and lets the running ones finish for up to this long; a job
 * still running then is handed back (its lock expires and another worker takes it).
 */
export const SHUTDOWN_GRACE_MS = 25_000;

/** How many times a job whose worker died is taken again before Bull gives up on it. */
export const MAX_STALLED_COUNT = 2;
