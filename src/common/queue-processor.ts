import { Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import type { Attributes } from '@opentelemetry/api';
import type { Job, Queue } from 'bull';
import { inCarriedTrace, inSpan, SpanKind } from '../tracing/spans';
import { SHUTDOWN_GRACE_MS, Traced } from './jobs';
import { withTimeout } from './with-timeout';

/**
 * Takes a queue's jobs in this process from the application's start, and knows which are in flight,
 * so that on shutdown it stops taking jobs and lets the running ones finish (Bull's own
 * `pause(true)` waits were seen to hang). Each job is handled in a span of its own, in the trace it
 * was queued in (`addJob`), or in a trace of its own.
 */
export abstract class QueueProcessor<T extends Traced>
  implements OnApplicationBootstrap, OnModuleDestroy
{
  protected readonly logger = new Logger(this.constructor.name);
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly queue: Queue<T>,
    private readonly concurrency: number,
  ) {}

  protected abstract handle(job: Job<T>): Promise<void>;

  /** What the job's span says of it besides its queue and id: ids, never secrets. */
  protected spanAttributes(job: Job<T>): Attributes {
    void job;
    return {};
  }

  onApplicationBootstrap(): void {
    void this.queue.process(this.concurrency, (job: Job<T>) => {
      const running = inCarriedTrace(job.data.trace, () =>
        inSpan(
          `process ${this.queue.name}`,
          {
            'messaging.destination.name': this.queue.name,
            'messaging.message.id': String(job.id),
            ...this.spanAttributes(job),
          },
          () => this.handle(job),
          { kind: SpanKind.CONSUMER },
        ),
      );
      this.inFlight.add(running);
      return running.finally(() => this.inFlight.delete(running));
    });
  }

  /** Takes no more jobs and waits up to SHUTDOWN_GRACE_MS; a job still running is handed back. */
  async onModuleDestroy(): Promise<void> {
    await this.queue.pause(true, true);
    this.logger.log(`Shutting down: waiting for ${this.inFlight.size} job(s) in flight`);
    await withTimeout(Promise.allSettled(this.inFlight), SHUTDOWN_GRACE_MS, 'finishing jobs').catch(
      (error: unknown) => this.logger.warn(`${String(error)}: handing the rest back`),
    );
  }
}
