import { Logger } from '@nestjs/common';
import type { Job, Queue } from 'bull';
import { SHUTDOWN_GRACE_MS } from './queues';
import { withTimeout } from './with-timeout';

/**
 * Runs a queue's jobs in this process and knows which are in flight, so that on shutdown it can stop
 * taking jobs and let the running ones finish (Bull's own `pause(true)` waits were seen to hang).
 */
export class QueueWorker<T> {
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly queue: Queue<T>,
    private readonly logger: Logger,
  ) {}

  start(concurrency: number, handle: (job: Job<T>) => Promise<void>): void {
    void this.queue.process(concurrency, (job: Job<T>) => {
      const running = handle(job);
      this.inFlight.add(running);
      return running.finally(() => this.inFlight.delete(running));
    });
  }

  /** Takes no more jobs and waits up to SHUTDOWN_GRACE_MS; a job still running is handed back. */
  async stop(): Promise<void> {
    await this.queue.pause(true, true);
    this.logger.log(`Shutting down: waiting for ${this.inFlight.size} job(s) in flight`);
    await withTimeout(Promise.allSettled(this.inFlight), SHUTDOWN_GRACE_MS, 'finishing jobs').catch(
      (error: unknown) => this.logger.warn(`${String(error)}: handing the rest back`),
    );
  }
}
