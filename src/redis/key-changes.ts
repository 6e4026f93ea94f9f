import { Logger } from '@nestjs/common';
import { RedisChannel } from './redis-channel';
import { RedisConnections } from './redis-connections';

/**
 * One held request's registration for a key's next change, made before what the key names is read:
 * a change published between that read and the wait is remembered, and the wait then ends at once
 * instead of holding an answer that is already stale until the deadline.
 */
export class KeyChange {
  private woken = false;
  private endWait?: () => void;

  constructor(
    private readonly aborted: AbortSignal,
    private readonly unregister: () => void,
  ) {
    aborted.addEventListener('abort', this.wake);
    if (aborted.aborted) this.wake();
  }

  /** Whether the report changed since registration (or the client left, or the service stops). */
  get changed(): boolean {
    return this.woken;
  }

  /** Resolves at once when `changed`, otherwise on the change, on abort, or after `ms`. */
  wait(ms: number): Promise<void> {
    if (this.woken) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => this.endWait?.(), ms); // the one timer of a held request
      this.endWait = () => {
        clearTimeout(timer);
        this.endWait = undefined;
        resolve();
      };
    });
  }

  /** Ends the wait if one is running and unregisters. Always called; calling it twice is harmless. */
  dispose(): void {
    this.wake();
    this.aborted.removeEventListener('abort', this.wake);
    this.unregister();
  }

  /** The report changed, the client left or the service stops: no wait lasts past this. */
  readonly wake = (): void => {
    this.woken = true;
    this.endWait?.();
  };
}

/** How many requests may be held at once: per client, and in the whole process. */
export interface HoldCaps {
  perClient: number;
  perProcess: number;
}

/**
 * "This key changed", across processes, through Redis pub/sub: what wakes requests held until the
 * thing they ask about changes (long polls). One subscriber connection per process, opened on first
 * use; one timer per held request, cleared on the change, when the time is up or the client leaves.
 */
export class KeyChanges {
  private readonly logger = new Logger(KeyChanges.name);
  private readonly channel: RedisChannel;
  private readonly registered = new Map<string, Set<KeyChange>>();
  /** Requests held now, per client and in all: each bounded (`caps`). */
  private readonly holding = new Map<string, number>();
  private holdingAll = 0;
  private stopping = false;

  constructor(
    connections: RedisConnections,
    channel: string,
    private readonly caps: HoldCaps,
  ) {
    this.channel = new RedisChannel(connections, channel);
  }

  /** Requests registered now: held, or reading first (for tests and metrics). */
  get held(): number {
    let count = 0;
    for (const changes of this.registered.values()) count += changes.size;
    return count;
  }

  /** Whether the service stops: a request held now is answered, and none is held any more. */
  get stopped(): boolean {
    return this.stopping;
  }

  /**
   * A place for one held request of the client, or undefined when the client or the process holds
   * its most (`caps`): the answer is then given at once. Call the function it gives when the
   * request is answered.
   */
  hold(clientId: string): (() => void) | undefined {
    const mine = this.holding.get(clientId) ?? 0;
    if (mine >= this.caps.perClient || this.holdingAll >= this.caps.perProcess) return undefined;
    this.holding.set(clientId, mine + 1);
    this.holdingAll += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.holdingAll -= 1;
      const left = (this.holding.get(clientId) ?? 1) - 1;
      if (left > 0) this.holding.set(clientId, left);
      else this.holding.delete(clientId);
    };
  }

  /** Tells every process that the key changed. Never fails the caller. */
  async publish(key: string): Promise<void> {
    if (!(await this.channel.publish(key))) {
      this.logger.warn({ key, msg: `Change of ${key} not published: Redis did not take it` });
    }
  }

  /**
   * Registers for the key's next change, once this process listens for changes. Call it BEFORE
   * reading what it names, then `wait`: a change published after the read is not missed.
   * `aborted` (the client left) ends the wait; `dispose()` the handle in every case. Keys are
   * compared in lower case (a request may spell an id in upper case).
   */
  async subscribe(spelt: string, aborted: AbortSignal): Promise<KeyChange> {
    const key = spelt.toLowerCase();
    const change = new KeyChange(aborted, () => this.unregister(key, change));
    const changes = this.registered.get(key) ?? new Set<KeyChange>();
    this.registered.set(key, changes.add(change));
    if (this.stopping) {
      change.wake(); // no wait, and no subscriber opened, once the service stops
    } else {
      // Without Redis the request is still held until its deadline, only not woken early.
      await this.channel.subscribe(this.heard);
    }
    return change;
  }

  /** The service stops: every held request is answered, and none is held any more. */
  stop(): void {
    this.stopping = true;
    for (const changes of this.registered.values()) for (const change of changes) change.wake();
  }

  private unregister(key: string, change: KeyChange): void {
    const changes = this.registered.get(key);
    changes?.delete(change);
    if (changes?.size === 0) this.registered.delete(key);
  }

  private readonly heard = (key: string): void => {
    for (const change of this.registered.get(key) ?? []) change.wake();
  };
}
