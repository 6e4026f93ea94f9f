import { Logger } from '@nestjs/common';
import Redis from 'ioredis';
import { withTimeout } from '../common/with-timeout';

/**
 * "This client's keys changed" (rotated or revoked), across processes, through Redis pub/sub: every
 * API process drops what it remembers of them within about a second. Published by the admin CLI,
 * which runs outside the application; without Redis, the caches forget keys within a minute anyway.
 */
export class ApiKeyEvents {
  private readonly logger = new Logger(ApiKeyEvents.name);
  private readonly channel: string;
  private subscriber?: Redis;

  constructor(
    private readonly url: string,
    prefix: string,
  ) {
    this.channel = `${prefix}:api-keys-changed`;
  }

  /** Tells every API process; false when Redis did not take the message. */
  async publish(clientId: string): Promise<boolean> {
    const redis = new Redis(this.url, { maxRetriesPerRequest: 1, lazyConnect: true });
    redis.on('error', () => undefined);
    try {
      await withTimeout(
        redis.connect().then(() => redis.publish(this.channel, clientId)),
        3000,
      );
      return true;
    } catch {
      return false;
    } finally {
      redis.disconnect();
    }
  }

  /**
   * Calls `changed` with each client id published, on a connection of its own. A message published
   * while that connection is down is lost: `missed` is called each time it is subscribed again after
   * a disconnection (every key may have changed meanwhile).
   */
  subscribe(changed: (clientId: string) => void, missed: () => void): void {
    const subscriber = new Redis(this.url, {
      maxRetriesPerRequest: null,
      // Subscribed again below, where the subscription's confirmation can be awaited.
      autoResubscribe: false,
      // Named, so that an operator (or a test) finds it in CLIENT LIST.
      connectionName: `${this.channel}:subscriber`,
    });
    this.subscriber = subscriber;
    subscriber.on('error', () => undefined); // ioredis reconnects by itself
    subscriber.on('message', (_channel: string, clientId: string) => changed(clientId));
    let connections = 0;
    subscriber.on('ready', () => {
      const again = connections++ > 0;
      subscriber.subscribe(this.channel).then(
        // Once subscribed again: a change published before that is covered by `missed`.
        () => again && missed(),
        (error: unknown) =>
          this.logger.warn(
            `Key changes not heard (caches forget keys within a minute): ${String(error)}`,
          ),
      );
    });
  }

  close(): void {
    this.subscriber?.disconnect();
  }
}
