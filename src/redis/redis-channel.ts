import { Logger } from '@nestjs/common';
import { withTimeout } from '../common/with-timeout';
import { RedisConnections } from './redis-connections';

/**
 * One kind of message to every process, through Redis pub/sub. Publishing waits a bounded time and
 * never fails its caller; a process listens on a connection of its own, named after the channel.
 */
export class RedisChannel {
  private readonly logger = new Logger(RedisChannel.name);
  private readonly channel: string;
  private subscribed?: Promise<void>;

  constructor(
    private readonly connections: RedisConnections,
    private readonly name: string,
  ) {
    this.channel = `${connections.prefix}:${name}`;
  }

  /** False when Redis did not take the message within `ms` (with Redis away it would wait ~10 s). */
  publish(message: string, ms = 1000): Promise<boolean> {
    const published = this.connections.get('commands').publish(this.channel, message);
    return withTimeout(published, ms, 'publish').then(
      () => true,
      () => false,
    );
  }

  /**
   * Calls `heard` with each message (the first call's; later calls only wait). Resolves once
   * subscribed, within a second, and at once while the subscriber has lost Redis: it subscribes
   * again by itself once back, then calls `missed`, for what was published meanwhile is lost.
   */
  async subscribe(heard: (message: string) => void, missed = () => {}): Promise<void> {
    const subscriber = this.connections.get(`${this.name}:subscriber`, {
      maxRetriesPerRequest: null,
      autoResubscribe: false, // subscribed again below, where the confirmation can be awaited
    });
    this.subscribed ??= new Promise((resolve) => {
      subscriber.on('message', (_channel: string, message: string) => heard(message));
      let readies = 0;
      subscriber.on('ready', () => {
        const again = readies++ > 0;
        subscriber.subscribe(this.channel).then(
          () => {
            resolve();
            if (again) missed();
          },
          (error: unknown) => this.logger.warn(`${this.channel} not heard: ${String(error)}`),
        );
      });
    });
    if (!['reconnecting', 'close', 'end'].includes(subscriber.status)) {
      await withTimeout(this.subscribed, 1000, 'subscribe').catch(() => undefined);
    }
  }
}
