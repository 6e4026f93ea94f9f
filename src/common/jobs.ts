import type { JobOptions, Queue } from 'bull';
import { TraceCarrier, traceCarrier } from '../tracing/spans';
import { Position } from './pagination';
import { withTimeout } from './with-timeout';

/**
 * How long a request, or a step of the sweep, waits on Redis before it goes on without it: Postgres
 * holds what is due, and the sweep queues it once Redis answers.
 */
export const REDIS_WAIT_MS = 1000;

/** Every queue in one place, with the data each job carries: ids, never documents. */
export enum QueueName {
  ReportRender = 'report-render',
  CallbackDelivery = 'callback-delivery',
}

/**
 * The trace the job belongs to (W3C `traceparent`, `tracestate`), set by `addJob` when it is queued
 * inside one: its processing continues that trace. Jobs the sweep queues carry none.
 */
export interface Traced {
  trace?: TraceCarrier;
}

export interface JobData {
  [QueueName.ReportRender]: { reportId: string } & Traced;
  /** One job per attempt: `attempt` is 1-based. */
  [QueueName.CallbackDelivery]: { eventId: string; attempt: number } & Traced;
}

/** A job as it is added (`addJob`). */
export interface JobSpec<Q extends QueueName> {
  data: JobData[Q];
  opts: JobOptions;
}

/** Queues a job, carrying the active trace context (if any) for its processing to continue. */
export function addJob<Q extends QueueName>(queue: Queue<JobData[Q]>, job: JobSpec<Q>) {
  const trace = traceCarrier();
  return queue.add(trace ? { ...job.data, trace } : job.data, job.opts);
}

/**
 * On SIGTERM a worker stops taking jobs and lets the running ones finish for up to this long; a job
 * still running then is handed back (its lock expires and another worker takes it).
 */
export const SHUTDOWN_GRACE_MS = 25_000;

/**
 * How many times a render is tried, and why, in one place:
 * - a render that fails (Chromium crashed, the print timed out) is tried again by Bull, up to
 *   RENDER_ATTEMPTS tries in all, with exponential backoff (`renderJob`);
 * - a try whose worker died (out of memory, killed) loses its lock after RENDER_STALL_TIMEOUT_MS and is
 *   taken again, up to MAX_STALLED_COUNT times (`queueSettings`);
 * - a job Redis lost (a restart empties it) is queued again by the sweep, with fresh counters;
 * - so Postgres counts every claim (reports.render_attempts), and a report claimed more than
 *   `maxRenderClaims` times ends FAILED instead of looping forever on a render that kills its worker.
 */
const MAX_STALLED_COUNT = 2;

export function maxRenderClaims(attempts: number): number {
  return attempts + MAX_STALLED_COUNT;
}

/** Bull's settings for every queue: a dead worker's job is taken again once its lock expires. */
export function queueSettings(stallTimeoutMs: number) {
  return {
    lockDuration: stallTimeoutMs,
    // Renewed every third of it, so that a long render on a busy 2-core machine keeps its lock.
    lockRenewTime: Math.floor(stallTimeoutMs / 3),
    stalledInterval: Math.floor(stallTimeoutMs / 2),
    maxStalledCount: MAX_STALLED_COUNT,
  };
}

/**
 * The render of a report, in its turn (reports.fair_round: Bull serves lower priorities first, in
 * arrival order within one). Its id is the report's: queueing the same report twice is harmless.
 */
export function renderJob(
  reportId: string,
  attempts: number,
  turn: number,
): JobSpec<QueueName.ReportRender> {
  return {
    data: { reportId },
    opts: {
      jobId: reportId,
      priority: turn,
      attempts,
      backoff: { type: 'exponential', delay: 2000 },
      removeOnComplete: true,
      removeOnFail: true,
    },
  };
}

export const deliveryJobId = (eventId: string, attempt: number) => `${eventId}:${attempt}`;

/**
 * One attempt to deliver a callback event, after `delayMs`. Each attempt is its own job (its id names
 * the attempt), scheduled from the recorded state of the one before (retry-schedule.ts). Bull's own
 * three tries only cover a delivery that could not count its attempt in Postgres (Postgres away):
 * once counted, a job tried again sends nothing, and an attempt counted but never recorded is the
 * sweep's (CallbacksService.requeueDue). An attempt
 * `resumed` after waiting for its client's slot gets an id of its own, which its waiting job (done,
 * but maybe not yet removed) cannot hold: a duplicate is harmless, the slot lease and the recorded
 * attempts let one send.
 */
export function deliveryJob(
  eventId: string,
  attempt: number,
  delayMs = 0,
  { resumed = false } = {},
): JobSpec<QueueName.CallbackDelivery> {
  const jobId = deliveryJobId(eventId, attempt);
  return {
    data: { eventId, attempt },
    opts: {
      jobId: resumed ? `${jobId}:resumed:${Date.now()}` : jobId,
      delay: delayMs,
      attempts: 3,
      backoff: { type: 'exponential', delay: 1000 },
      removeOnComplete: true,
      removeOnFail: true,
    },
  };
}

/** Younger rows may still be on their way into Redis: the sweep leaves them to their request. */
const SWEEP_GRACE = '5 seconds';

/**
 * The sweep's requeue for one queue. Postgres is the source of truth and Redis a queue that may
 * forget (a restart empties it): each pass reads the next `batch` rows whose job should be in Redis
 * (`read`) and hands `requeue`
 * those whose job Bull holds in no state (one pipelined round trip). A job that exists, in any
 * state, is Bull's to finish (a dead worker's job is "stalled"). Each pass goes on after the last
 * row the previous one checked and starts over at the end, so that a backlog whose oldest rows all
 * have their jobs does not hide the rows behind it.
 */
export class RequeueSweep<Row extends Position> {
  private sweptUpTo?: Position;

  constructor(
    private readonly queue: Queue<unknown>,
    private readonly read: (
      after: Position | undefined,
      grace: string,
      batch: number,
    ) => Promise<Row[]>,
    private readonly jobId: (row: Row) => string,
  ) {}

  /** One pass; answers how many rows `requeue` was given. */
  async pass(batch: number, requeue: (lost: Row[], checked: Row[]) => Promise<void>) {
    const rows = await this.read(this.sweptUpTo, SWEEP_GRACE, batch);
    const pipeline = this.queue.client.pipeline();
    for (const row of rows) pipeline.exists(this.queue.toKey(this.jobId(row)));
    const answers = rows.length
      ? ((await withTimeout(pipeline.exec(), 2 * REDIS_WAIT_MS, 'checking jobs')) ?? [])
      : [];
    const lost = rows.filter((_, i) => {
      const [error, exists] = answers[i] ?? [new Error('no answer'), null];
      if (error) throw error;
      return exists === 0;
    });
    await requeue(lost, rows);
    // Only once the batch is checked: a pass that failed checks it again.
    this.sweptUpTo = rows.length === batch ? rows[rows.length - 1] : undefined;
    return lost.length;
  }
}
