import { Inject, Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { reportsConfig } from '../../config/configuration';
import { RedisChannel } from '../../redis/redis-channel';
import { RedisConnections } from '../../redis/redis-connections';

/**
 * One status request's registration for a report's next change, made before the report is read:
 * a change published between that read and the wait is remembered, and the wait then ends at once
 * instead of holding an answer that is already stale until the deadline.
 */
export class ReportChange {
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

/**
 * "This report's status changed", across processes, through Redis pub/sub: what wakes a status
 * request held by `Prefer: wait=N`. One subscriber connection per process, opened on first use; one
 * timer per held request, cleared when the report changes, the time is up or the client goes away.
 */
@Injectable()
export class ReportEvents implements OnModuleDestroy {
  private readonly logger = new Logger(ReportEvents.name);
  private readonly channel: RedisChannel;
  private readonly registered = new Map<string, Set<ReportChange>>();
  /** Status requests held now, per client and in all: each bounded (LONG_POLL_MAX_*). */
  private readonly holding = new Map<string, number>();
  private holdingAll = 0;
  private stopping = false;

  constructor(
    connections: RedisConnections,
    @Inject(reportsConfig.KEY) private readonly reports: ConfigType<typeof reportsConfig>,
  ) {
    this.channel = new RedisChannel(connections, 'report-status-changed');
  }

  /** Status requests registered now: held, or reading the report first (for tests and metrics). */
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
   * A place for one held status request of the client, or undefined when the client
   * (LONG_POLL_MAX_PER_CLIENT) or the process (LONG_POLL_MAX_PER_PROCESS) holds its most: the
   * answer is then given at once. Call the function it gives when the request is answered.
   */
  hold(clientId: string): (() => void) | undefined {
    const mine = this.holding.get(clientId) ?? 0;
    if (
      mine >= this.reports.longPollPerClient ||
      this.holdingAll >= this.reports.longPollPerProcess
    ) {
      return undefined;
    }
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

  /** Tells every process that the report's status changed. Never fails the caller. */
  async publish(reportId: string): Promise<void> {
    if (!(await this.channel.publish(reportId))) {
      this.logger.warn({ reportId, msg: 'Status change not published: Redis did not take it' });
    }
  }

  /**
   * Registers for the report's next change, once this process listens for changes. Call it BEFORE
   * reading the report, then `wait` if it is unfinished: a change published after the read is not
   * missed. `aborted` (the client left) ends the wait; `dispose()` the handle in every case.
   */
  async subscribe(reportId: string, aborted: AbortSignal): Promise<ReportChange> {
    const key = reportId.toLowerCase(); // the id as the request spelt it; publishers use Postgres's
    const change = new ReportChange(aborted, () => this.unregister(key, change));
    const changes = this.registered.get(key) ?? new Set<ReportChange>();
    this.registered.set(key, changes.add(change));
    if (this.stopping) {
      change.wake(); // no wait, and no subscriber opened, once the module is being destroyed
    } else {
      // Without Redis the request is still held until its deadline, only not woken early.
      await this.channel.subscribe(this.heard);
    }
    return change;
  }

  onModuleDestroy(): void {
    this.stopping = true;
    for (const changes of this.registered.values()) for (const change of changes) change.wake();
  }

  private unregister(reportId: string, change: ReportChange): void {
    const changes = this.registered.get(reportId);
    changes?.delete(change);
    if (changes?.size === 0) this.registered.delete(reportId);
  }

  private readonly heard = (reportId: string): void => {
    for (const change of this.registered.get(reportId) ?? []) change.wake();
  };
}
