import { InjectQueue } from '@nestjs/bull';
import { Inject, Injectable } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import type { Job, Queue } from 'bull';
import { ClientsRepository } from '../clients/clients.repository';
import { deliveryJobId, JobData, QueueName } from '../common/jobs';
import { QueueProcessor } from '../common/queue-processor';
import { callbacksConfig } from '../config/configuration';
import { MetricsService } from '../metrics/metrics.service';
import { CallbackStatus } from './callback-event.entity';
import { CallbackEventsRepository, PendingEvent } from './callback-events.repository';
import { CallbackSender } from './callback-sender';
import { CallbackSlots } from './callback-slots';
import { CallbacksService } from './callbacks.service';
import { retryDelayMs } from './retry-schedule';

/** Callbacks wait on the network, not the CPU: many run at once. */
const DELIVERY_CONCURRENCY = 16;

type Delivery = JobData[QueueName.CallbackDelivery];

/** What became of an attempt: 2xx delivered, 410 gone, anything else tried again later. */
export function outcomeOf(statusCode: number | null): CallbackStatus {
  if (statusCode !== null && statusCode >= 200 && statusCode < 300) return CallbackStatus.Delivered;
  if (statusCode === 410) return CallbackStatus.Gone;
  return CallbackStatus.Pending;
}

/**
 * Takes delivery jobs: sends the attempt in one of its client's slots (CallbackSlots), records it,
 * and schedules the next one from what it recorded.
 */
@Injectable()
export class CallbackDeliveryProcessor extends QueueProcessor<Delivery> {
  constructor(
    @InjectQueue(QueueName.CallbackDelivery) queue: Queue<Delivery>,
    private readonly events: CallbackEventsRepository,
    private readonly clients: ClientsRepository,
    private readonly sender: CallbackSender,
    private readonly slots: CallbackSlots,
    private readonly callbacks: CallbacksService,
    @Inject(callbacksConfig.KEY) private readonly config: ConfigType<typeof callbacksConfig>,
    private readonly metrics: MetricsService,
  ) {
    super(queue, DELIVERY_CONCURRENCY);
  }

  protected async handle({ data: { eventId, attempt } }: Job<Delivery>): Promise<void> {
    const event = await this.events.find(eventId);
    const member = deliveryJobId(eventId, attempt);
    // Bull delivers at least once: an attempt already made, or an event already settled, is skipped.
    if (!event || event.status !== CallbackStatus.Pending || event.attempts + 1 !== attempt) {
      if (event) await this.slots.leaveLine(event.clientId, member);
      return;
    }
    // Waiting for one of the client's slots, or made by another worker now: nothing to do here.
    if ((await this.slots.take(event.clientId, member)) !== 'taken') return;
    try {
      await this.attempt(event, attempt);
    } finally {
      const next = await this.slots.release(event.clientId, member);
      if (next) await this.callbacks.resume(next);
    }
  }

  /** Sends the attempt, records it, and queues the next one if there is to be one. */
  private async attempt(event: PendingEvent, attempt: number): Promise<void> {
    const eventId = event.id;
    const started = performance.now();
    const result = await this.sender.send(event, await this.clients.webhookSecrets(event.clientId));
    const durationMs = Math.round(performance.now() - started);
    const outcome = outcomeOf(result.statusCode);
    const delay =
      outcome === CallbackStatus.Pending
        ? retryDelayMs(attempt, this.config.retryDelaysMs, result.retryAfterSeconds)
        : undefined;
    const status =
      outcome === CallbackStatus.Pending && delay === undefined ? CallbackStatus.Failed : outcome;

    await this.events.recordAttempt(eventId, {
      attempt,
      at: new Date(Date.now() - durationMs),
      statusCode: result.statusCode,
      durationMs,
      error: result.error,
      excerpt: result.excerpt,
      status,
      nextAttemptAt: delay === undefined ? null : new Date(Date.now() + delay),
    });
    this.metrics.callbackAttempts.inc({
      outcome: status === CallbackStatus.Pending ? 'retry' : status.toLowerCase(),
    });
    this.logger.log({
      reportId: event.reportId,
      callbackEventId: eventId,
      msg:
        `Report ${event.reportId}: callback ${eventId} attempt ${attempt} → ` +
        `${result.statusCode ?? result.detail ?? result.error} (${status})`,
    });
    if (delay !== undefined) await this.callbacks.send(eventId, attempt + 1, delay);
  }
}
