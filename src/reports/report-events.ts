import { InjectQueue } from '@nestjs/bull';
import { Inject, Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import type { Queue } from 'bull';
import Redis from 'ioredis';
import { QueueName } from '../common/queues';
import { withTimeout } from '../common/with-timeout';
import { redisConfig } from '../config/configuration';

/**
 * "This report's status changed", across processes, through Redis pub/sub: what wakes a status
 * request held by `Prefer: wait=N`. One subscriber connection per process, opened on first use; one
 * timer per held request, cleared when the report changes, the time is up or the client goes away.
 */
@Injectable()
export class ReportEvents implements OnModuleDestroy {
  private readonly logger = new Logger(ReportEvents.name);
  private readonly channel: string;
  private subscriber?: Promise<Redis>;
  private readonly waiting = new Map<string, Set<() => void>>();

  constructor(
    @InjectQueue(QueueName.ReportRender) private readonly queue: Queue,
    @Inject(redisConfig.KEY) private readonly redis: ConfigType<typeof redisConfig>,
  ) {
    this.channel = `${redis.queuePrefix}:report-status-changed`;
  }

  /** Requests held now (for tests and metrics). */
  get held(): number {
    let count = 0;
    for (const wakers of this.waiting.values()) count += wakers.size;
    return count;
  }

  /** Tells every process that the report's status changed. Never fails the caller. */
  async changed(reportId: string): Promise<void> {
    // Bounded like every Redis call on a request path: with Redis away, publish would wait ~10 s.
    await withTimeout(this.queue.client.publish(this.channel, reportId), 1000, 'publish').catch(
      (error: unknown) => {
        this.logger.warn({ reportId, msg: `Status change not published: ${String(error)}` });
      },
    );
  }

  /**
   * Resolves when the report changes, after `ms`, or when `aborted` fires, whichever comes first.
   * Nothing is left behind in any case.
   */
  async waitForChange(reportId: string, ms: number, aborted: AbortSignal): Promise<void> {
    // Without Redis the request is still held until its deadline, only not woken early.
    await withTimeout(this.subscribe(), 1000, 'subscribe').catch(() => undefined);
    await new Promise<void>((resolve) => {
      const wakers = this.waiting.get(reportId) ?? new Set<() => void>();
      this.waiting.set(reportId, wakers);
      const done = () => {
        clearTimeout(timer);
        aborted.removeEventListener('abort', done);
        wakers.delete(done);
        if (wakers.size === 0) this.waiting.delete(reportId);
        resolve();
      };
      const timer = setTimeout(done, ms);
      wakers.add(done);
      aborted.addEventListener('abort', done);
      if (aborted.aborted) done();
    });
  }

  async onModuleDestroy(): Promise<void> {
    for (const wakers of [...this.waiting.values()]) for (const wake of [...wakers]) wake();
    const subscriber = await this.subscriber?.catch(() => undefined);
    subscriber?.disconnect();
  }

  private subscribe(): Promise<Redis> {
    this.subscriber ??= (async () => {
      const subscriber = new Redis(this.redis.url, { maxRetriesPerRequest: null });
      subscriber.on('error', () => undefined); // ioredis reconnects by itself
      subscriber.on('message', (_channel: string, reportId: string) => {
        for (const wake of [...(this.waiting.get(reportId) ?? [])]) wake();
      });
      await subscriber.subscribe(this.channel);
      return subscriber;
    })();
    this.subscriber.catch(() => (this.subscriber = undefined));
    return this.subscriber;
  }
}
