import { InjectQueue } from '@nestjs/bull';
import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import type { Queue } from 'bull';
import { randomUUID } from 'node:crypto';
import { EntityManager } from 'typeorm';
import {
  addJob,
  deliveryJob,
  deliveryJobId,
  JobData,
  QueueName,
  REDIS_WAIT_MS,
  RequeueSweep,
} from '../common/jobs';
import { Position } from '../common/pagination';
import { withTimeout } from '../common/with-timeout';
import { callbacksConfig } from '../config/configuration';
import { CallbackAttempt, CallbackStatus } from './callback-event.entity';
import { CallbackEventsRepository } from './callback-events.repository';
import { callbackNotFound, callbackUrlRefused, redeliveredTooSoon } from './callbacks.exceptions';
import { retryDelayMs, sendLeaseMs } from './retry-schedule';
import {
  callbackPortProblem,
  callbackUrlFormatProblem,
  callbackUrlProblem,
  CallbackResolver,
} from './ssrf';

export interface CallbackSummary {
  status: CallbackStatus;
  attempts: number;
}

/** An event to send to a client's callback_url: the exact body, signed at each attempt. */
export interface NewCallbackEvent {
  clientId: string;
  reportId: string;
  url: string;
  payload: string;
}

/** How often a client may have an event sent again. */
const REDELIVER_EVERY_S = 60;
/** What the attempts log says of an attempt whose result was never recorded (coarse, as the others). */
export const INTERRUPTED = 'interrupted';

/**
 * The callbacks' outbox: events are written in the caller's transaction (a report never ends without
 * its callback being due), then queued; the sweep queues again what Redis lost.
 */
@Injectable()
export class CallbacksService implements OnModuleInit {
  private readonly logger = new Logger(CallbacksService.name);
  private readonly resolver: CallbackResolver;
  private readonly sweep: RequeueSweep<Position & { attempts: number }>;

  constructor(
    private readonly events: CallbackEventsRepository,
    @InjectQueue(QueueName.CallbackDelivery)
    private readonly queue: Queue<JobData[QueueName.CallbackDelivery]>,
    @Inject(callbacksConfig.KEY) private readonly config: ConfigType<typeof callbacksConfig>,
  ) {
    this.resolver = new CallbackResolver(config.dnsServers);
    this.sweep = new RequeueSweep(queue, events.due.bind(events), ({ id, attempts }) =>
      deliveryJobId(id, attempts + 1),
    );
  }

  /** Said loudly at every start: the setting turns off both SSRF checks. */
  onModuleInit(): void {
    if (this.config.allowPrivateNetworks) {
      this.logger.warn(
        'CALLBACK_ALLOW_PRIVATE_NETWORKS=true: callback URLs may reach loopback and private ' +
          'addresses, at request and at connection time (SSRF checks off). For development and ' +
          'tests only, never in production.',
      );
    }
  }

  /**
   * Refuses a callback_url at request time; the delivery checks the address again when it connects.
   * The client's lookups in flight are bounded (CallbackResolver.lookupFor).
   */
  async checkUrl(url: string, clientId: string): Promise<void> {
    const lookup = (host: string) => this.resolver.lookupFor(clientId, host);
    const problem =
      callbackUrlFormatProblem(url) ??
      callbackPortProblem(url, this.config.allowedPorts) ??
      (await callbackUrlProblem(url, this.config.allowPrivateNetworks, lookup));
    if (problem) throw callbackUrlRefused(problem);
  }

  /**
   * Schedules the event inside `transaction`, and answers its id (the `webhook-id` of every attempt).
   * Once the transaction is committed, `send` queues its first attempt.
   */
  async schedule(transaction: EntityManager, event: NewCallbackEvent): Promise<string> {
    const id = `msg_${randomUUID().replace(/-/g, '')}`;
    await this.events.insert(transaction, { id, ...event });
    return id;
  }

  /** Queues one attempt; the job id makes queueing the same attempt twice harmless. */
  async send(eventId: string, attempt = 1, delayMs = 0): Promise<void> {
    await addJob(this.queue, deliveryJob(eventId, attempt, delayMs));
  }

  /** Queues again an attempt that waited for one of its client's slots (`<eventId>:<attempt>`). */
  async resume(waiting: string): Promise<void> {
    const [eventId, attempt] = waiting.split(':');
    await addJob(this.queue, deliveryJob(eventId, Number(attempt), 0, { resumed: true }));
  }

  attempts(reportId: string): Promise<CallbackAttempt[]> {
    return this.events.attemptsOfReport(reportId);
  }

  /**
   * Sends the report's event again now, with the same webhook-id, whatever became of it; at most
   * once a minute (a client cannot make the service knock on a host at its pace).
   */
  async redeliver(reportId: string): Promise<CallbackSummary> {
    const event = await this.events.redeliver(reportId, REDELIVER_EVERY_S);
    if (!event) throw callbackNotFound();
    if ('waitSeconds' in event) throw redeliveredTooSoon(event.waitSeconds);
    // Due now in Postgres already: if Redis does not answer in time, the sweep queues it once Redis
    // is back, and the client is not kept waiting for Redis.
    await withTimeout(
      this.queueNow(event.id, event.attempts + 1),
      REDIS_WAIT_MS,
      'redeliver',
    ).catch((error: unknown) =>
      this.logger.warn(`Redeliver of ${event.id} left to the sweep: ${String(error)}`),
    );
    return { status: CallbackStatus.Pending, attempts: event.attempts };
  }

  /**
   * Queues the attempt to go now. It may already wait for its retry (a delayed job with the same id,
   * which queueing again would leave as it is): then it is sent now.
   */
  private async queueNow(eventId: string, attempt: number): Promise<void> {
    const waiting = await this.queue.getJob(deliveryJobId(eventId, attempt));
    if (waiting && (await waiting.isDelayed())) await waiting.promote();
    else await this.send(eventId, attempt);
  }

  /**
   * The sweep's part: records the attempts whose result never came (interrupted) and schedules what
   * follows them, then queues again the next `batch` due events whose attempt Redis does not hold (a
   * restart empties it). Answers how many were queued.
   */
  async requeueDue(batch: number): Promise<number> {
    const resumed = await this.recordInterrupted(batch);
    return resumed + (await this.requeueLost(batch));
  }

  /**
   * An attempt counted and started (so maybe sent) whose result was never recorded: its worker died
   * between the POST and the record, or could not record. It counts as an attempt of the schedule,
   * recorded with a coarse error, and the next one comes after the schedule's delay: never sent
   * again outside it.
   */
  private async recordInterrupted(batch: number): Promise<number> {
    const leaseMs = sendLeaseMs(this.config.timeoutMs);
    let queued = 0;
    for (const { id, attempts, sendingSince } of await this.events.interrupted(leaseMs, batch)) {
      const delay = retryDelayMs(attempts, this.config.retryDelaysMs);
      const recorded = await this.events.recordAttempt(id, {
        attempt: attempts,
        at: sendingSince,
        statusCode: null,
        durationMs: 0,
        error: INTERRUPTED,
        excerpt: null,
        status: delay === undefined ? CallbackStatus.Failed : CallbackStatus.Pending,
        nextAttemptAt: delay === undefined ? null : new Date(Date.now() + delay),
      });
      this.logger.warn(`Callback ${id}: attempt ${attempts} started, its result never recorded`);
      if (recorded && delay !== undefined) {
        // Due in Postgres already: a job not queued now is queued by a later pass.
        const sent = await withTimeout(this.send(id, attempts + 1, delay), REDIS_WAIT_MS, 'enqueue')
          .then(() => true)
          .catch((error: unknown) => {
            this.logger.warn(`Callback ${id}: next attempt not queued now (${String(error)})`);
            return false;
          });
        if (sent) queued += 1;
      }
    }
    return queued;
  }

  private requeueLost(batch: number): Promise<number> {
    return this.sweep.pass(batch, async (lost) => {
      for (const { id, attempts } of lost) {
        await withTimeout(this.send(id, attempts + 1), REDIS_WAIT_MS, 'enqueue');
      }
    });
  }
}
