import { InjectQueue } from '@nestjs/bull';
import { Inject, Injectable } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import type { Attributes } from '@opentelemetry/api';
import type { Job, Queue } from 'bull';
import { ClientsService } from '../clients/clients.service';
import { deliveryJobId, JobData, QueueName } from '../common/jobs';
import { QueueProcessor } from '../common/queue-processor';
import { callbacksConfig } from '../config/configuration';
import { MetricsService } from '../metrics/metrics.service';
import { inSpan, outsideTraces, SpanStatusCode } from '../tracing/spans';
import { CallbackStatus } from './callback-event.entity';
import { CallbackEventsRepository, PendingEvent } from './callback-events.repository';
import { CallbackSender } from './callback-sender';
import { CallbackSlots } from './callback-slots';
import { CallbacksService } from './callbacks.service';
import { retryDelayMs, sendLeaseMs } from './retry-schedule';

/** Callbacks wait on the network, not the CPU: many run at once. */
const DELIVERY_CONCURRENCY = 16;

type Delivery = JobData[QueueName.CallbackDelivery];

/** What became of an attempt: 2xx delivered, 410 gone, anything else tried again later. */
export function outcomeOf(statusCode: number | null): CallbackStatus {
  if (statusCode !== null && statusCode >= 200 && statusCode < 300) return CallbackStatus.Delivered;
  if (statusCode === 410) return CallbackStatus.Gone;
  return CallbackStatus.Pending;
}

/** Whether `attempt` is the event's next one, and none is being sent. */
function isNext(event: PendingEvent, attempt: number): boolean {
  return (
    event.status === CallbackStatus.Pending && !event.sending && event.attempts + 1 === attempt
  );
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
    private readonly clients: ClientsService,
    private readonly sender: CallbackSender,
    private readonly slots: CallbackSlots,
    private readonly callbacks: CallbacksService,
    @Inject(callbacksConfig.KEY) private readonly config: ConfigType<typeof callbacksConfig>,
    private readonly metrics: MetricsService,
  ) {
    super(queue, DELIVERY_CONCURRENCY);
  }

  protected spanAttributes({ data }: Job<Delivery>): Attributes {
    return { 'callback.event_id': data.eventId, 'callback.attempt': data.attempt };
  }

  protected async handle({ data: { eventId, attempt } }: Job<Delivery>): Promise<void> {
    const event = await this.events.find(eventId);
    const member = deliveryJobId(eventId, attempt);
    // Bull delivers at least once: an attempt already counted, or an event already settled, is
    // skipped. So is a job Bull tries again after its attempt was counted: never sent twice.
    if (!event || !isNext(event, attempt)) {
      if (event) await this.slots.leaveLine(event.clientId, member);
      return;
    }
    // Waiting for one of the client's slots, or made by another worker now: nothing to do here.
    if ((await this.slots.take(event.clientId, member)) !== 'taken') return;
    try {
      await this.attempt(event, attempt);
    } finally {
      const next = await this.slots.release(event.clientId, member);
      // Another event's attempt, in its own report's trace, not in this one.
      if (next) await outsideTraces(() => this.callbacks.resume(next));
    }
  }

  /**
   * Counts the attempt in Postgres, sends it, records its result, and queues the next one if there is
   * to be one. Counted first, so that nothing (a crash, Redis lost, a refused record) can make a send
   * that the schedule does not count: an attempt started and never recorded is recorded as
   * interrupted by the sweep (CallbacksService.requeueDue), and the schedule goes on from it.
   */
  private async attempt(event: PendingEvent, attempt: number): Promise<void> {
    const eventId = event.id;
    const [secrets, privateKeys] = await Promise.all([
      this.clients.webhookSecrets(event.clientId),
      this.clients.signingPrivateKeys(event.clientId),
    ]);
    if (!(await this.events.startAttempt(eventId, attempt, sendLeaseMs(this.config.timeoutMs)))) {
      return;
    }
    const started = performance.now();
    // The POST inside it carries `traceparent`: the partner's own tracing continues the trace.
    const result = await inSpan(
      'callback.attempt',
      { 'report.id': event.reportId, 'callback.event_id': eventId, 'callback.attempt': attempt },
      async (span) => {
        const sent = await this.sender.send(event, { secrets, privateKeys });
        if (sent.statusCode !== null)
          span.setAttribute('http.response.status_code', sent.statusCode);
        if (sent.error) span.setStatus({ code: SpanStatusCode.ERROR, message: sent.error });
        return sent;
      },
    );
    const durationMs = Math.round(performance.now() - started);
    const outcome = outcomeOf(result.statusCode);
    const delay =
      outcome === CallbackStatus.Pending
        ? retryDelayMs(attempt, this.config.retryDelaysMs, result.retryAfterSeconds)
        : undefined;
    const status =
      outcome === CallbackStatus.Pending && delay === undefined ? CallbackStatus.Failed : outcome;

    const recorded = {
      attempt,
      at: new Date(Date.now() - durationMs),
      statusCode: result.statusCode,
      durationMs,
      error: result.error,
      excerpt: result.excerpt,
      status,
      nextAttemptAt: delay === undefined ? null : new Date(Date.now() + delay),
    };
    const saved = await this.events.recordAttempt(eventId, recorded).catch(async (error) => {
      // The excerpt is the one part that comes from the partner: the attempt is recorded without it.
      this.logger.warn(`Callback ${eventId} attempt ${attempt} not recorded: ${String(error)}`);
      return this.events.recordAttempt(eventId, { ...recorded, excerpt: null });
    });
    // Recorded as interrupted meanwhile (this worker seemed gone): the sweep scheduled the next one.
    if (!saved) return;
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
