import { HttpService } from '@nestjs/axios';
import { InjectQueue } from '@nestjs/bull';
import {
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnModuleDestroy,
} from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Job, Queue } from 'bull';
import type { Readable } from 'node:stream';
import { DataSource } from 'typeorm';
import { QueueWorker } from '../common/queue-worker';
import { JobData, QueueName } from '../common/queues';
import { appConfig, callbacksConfig } from '../config/configuration';
import { MetricsService } from '../metrics/metrics.service';
import { CallbackEvent, CallbackStatus } from './callback-event.entity';
import { CallbacksService } from './callbacks.service';
import { parseRetryAfter, retryDelayMs } from './retry-schedule';
import { signatureHeader } from './signing';
import { callbackAgents } from './ssrf';

/** How much of a partner's answer is read and kept: enough to debug, never a whole page. */
const RESPONSE_EXCERPT_BYTES = 1024;
/** Callbacks wait on the network, not the CPU: many run at once. */
const DELIVERY_CONCURRENCY = 16;
export const USER_AGENT = 'orders-reports-callbacks/1.0 (+Standard Webhooks)';

type DeliveryJob = Job<JobData[QueueName.CallbackDelivery]>;

/** An event to send, with its client's encrypted signing secrets (the previous one while it lasts). */
type PendingEvent = Pick<
  CallbackEvent,
  'id' | 'reportId' | 'clientId' | 'url' | 'payload' | 'status' | 'attempts'
> & { secrets: Array<string | null> };

export interface AttemptResult {
  statusCode: number | null;
  error: string | null;
  excerpt: string | null;
  retryAfterSeconds?: number;
}

/** What became of an attempt: 2xx delivered, 410 gone, anything else tried again later. */
export function outcomeOf(statusCode: number | null): CallbackStatus {
  if (statusCode !== null && statusCode >= 200 && statusCode < 300) return CallbackStatus.Delivered;
  if (statusCode === 410) return CallbackStatus.Gone;
  return CallbackStatus.Pending;
}

/** Our own words for a failed connection: library messages never reach a client. */
export function describeFailure(error: unknown, timeoutMs: number): string {
  const { code, name, message } = (error ?? {}) as {
    code?: string;
    name?: string;
    message?: string;
  };
  if (
    name === 'AbortError' ||
    name === 'CanceledError' ||
    code === 'ECONNABORTED' ||
    code === 'ETIMEDOUT' ||
    code === 'ERR_CANCELED'
  ) {
    return `timed out after ${timeoutMs} ms`;
  }
  if (/is not allowed|private|DNS lookup .* not allowed/i.test(message ?? '')) {
    return 'blocked: the host resolves to a private, loopback or reserved address';
  }
  if (code === 'ECONNREFUSED') return 'connection refused';
  if (code === 'ECONNRESET' || code === 'EPIPE') return 'connection reset';
  if (code === 'ENOTFOUND') return 'host not found';
  if (code === 'EAI_AGAIN') return 'DNS lookup failed temporarily';
  if (code?.startsWith('ERR_TLS') || code?.includes('CERT')) return 'TLS handshake failed';
  return 'connection failed';
}

async function readExcerpt(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  let length = 0;
  try {
    for await (const chunk of stream) {
      chunks.push(chunk as Buffer);
      length += (chunk as Buffer).length;
      if (length >= RESPONSE_EXCERPT_BYTES) break;
    }
  } catch {
    // An answer cut short still has a status code; the excerpt is only for debugging.
  } finally {
    stream.destroy();
  }
  return Buffer.concat(chunks).subarray(0, RESPONSE_EXCERPT_BYTES).toString('utf8');
}

@Injectable()
export class CallbackDeliveryProcessor implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(CallbackDeliveryProcessor.name);
  private readonly agents: ReturnType<typeof callbackAgents>;
  private readonly worker: QueueWorker<JobData[QueueName.CallbackDelivery]>;

  constructor(
    @InjectQueue(QueueName.CallbackDelivery)
    queue: Queue<JobData[QueueName.CallbackDelivery]>,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly http: HttpService,
    private readonly callbacks: CallbacksService,
    @Inject(appConfig.KEY) private readonly app: ConfigType<typeof appConfig>,
    @Inject(callbacksConfig.KEY) private readonly config: ConfigType<typeof callbacksConfig>,
    private readonly metrics: MetricsService,
  ) {
    this.agents = callbackAgents(config.allowPrivateNetworks);
    this.worker = new QueueWorker(queue, this.logger);
  }

  onApplicationBootstrap(): void {
    if (this.app.role === 'api') return;
    this.worker.start(DELIVERY_CONCURRENCY, (job: DeliveryJob) => this.deliver(job.data));
  }

  /** Stops taking deliveries and lets the ones in flight end. */
  async onModuleDestroy(): Promise<void> {
    if (this.app.role !== 'api') await this.worker.stop();
  }

  async deliver({ eventId, attempt }: JobData[QueueName.CallbackDelivery]): Promise<void> {
    const [event] = await this.dataSource.query<PendingEvent[]>(
      `SELECT e.id, e.report_id AS "reportId", e.client_id AS "clientId", e.url, e.payload,
              e.status, e.attempts,
              ARRAY[c.webhook_secret, CASE WHEN c.previous_webhook_secret_expires_at > now()
                                           THEN c.previous_webhook_secret END] AS secrets
         FROM callback_events e JOIN clients c ON c.id = e.client_id
        WHERE e.id = $1`,
      [eventId],
    );
    // Bull delivers at least once: an attempt already made, or an event already settled, is skipped.
    if (!event || event.status !== CallbackStatus.Pending || event.attempts + 1 !== attempt) return;

    const started = performance.now();
    const result = await this.send(event);
    const durationMs = Math.round(performance.now() - started);
    const status = outcomeOf(result.statusCode);
    const delay =
      status === CallbackStatus.Pending
        ? retryDelayMs(attempt, this.config.retryDelaysMs, result.retryAfterSeconds)
        : undefined;
    const finalStatus =
      status === CallbackStatus.Pending && delay === undefined ? CallbackStatus.Failed : status;

    // The attempt and the event's new state, in one statement (so, atomically).
    await this.dataSource.query(
      `WITH recorded AS (
         INSERT INTO callback_attempts
                (event_id, attempt, at, status_code, duration_ms, error, response_excerpt)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
       )
       UPDATE callback_events SET attempts = $2, status = $8, next_attempt_at = $9, updated_at = now()
        WHERE id = $1`,
      [
        eventId,
        attempt,
        new Date(Date.now() - durationMs),
        result.statusCode,
        durationMs,
        result.error,
        result.excerpt,
        finalStatus,
        delay === undefined ? null : new Date(Date.now() + delay),
      ],
    );
    this.metrics.callbackAttempts.inc({
      outcome: finalStatus === CallbackStatus.Pending ? 'retry' : finalStatus.toLowerCase(),
    });
    this.logger.log({
      reportId: event.reportId,
      callbackEventId: eventId,
      msg: `Report ${event.reportId}: callback ${eventId} attempt ${attempt} → ${result.statusCode ?? result.error} (${finalStatus})`,
    });
    if (delay !== undefined) await this.callbacks.enqueue(eventId, attempt + 1, delay);
  }

  /** One POST of the event's exact bytes, signed now, never following a redirect. */
  private async send(event: PendingEvent): Promise<AttemptResult> {
    const timestamp = Math.floor(Date.now() / 1000);
    const secrets = this.callbacks.signingSecrets(event.clientId, event.secrets);
    if (secrets.length === 0) {
      return {
        statusCode: null,
        error:
          'no usable webhook secret (none, or not readable with WEBHOOK_SECRETS_KEY): ' +
          'rotate one with POST /v1/webhook-secret/rotate',
        excerpt: null,
      };
    }
    try {
      const response = await this.http.axiosRef.request<Readable>({
        method: 'POST',
        url: event.url,
        data: event.payload,
        headers: {
          'content-type': 'application/json',
          'user-agent': USER_AGENT,
          'webhook-id': event.id,
          'webhook-timestamp': String(timestamp),
          'webhook-signature': signatureHeader(secrets, event.id, timestamp, event.payload),
        },
        transformRequest: [(data: string) => data],
        responseType: 'stream',
        decompress: false,
        maxRedirects: 0,
        validateStatus: () => true,
        timeout: this.config.timeoutMs,
        signal: AbortSignal.timeout(this.config.timeoutMs),
        httpAgent: this.agents.httpAgent,
        httpsAgent: this.agents.httpsAgent,
        proxy: false,
      });
      const excerpt = await readExcerpt(response.data);
      const statusCode = response.status;
      const retryAfter = response.headers['retry-after'] as string | undefined;
      return {
        statusCode,
        excerpt,
        retryAfterSeconds: parseRetryAfter(retryAfter),
        error:
          statusCode >= 300 && statusCode < 400
            ? `redirect (${statusCode}) not followed`
            : statusCode >= 200 && statusCode < 300
              ? null
              : `HTTP ${statusCode}`,
      };
    } catch (error) {
      return {
        statusCode: null,
        error: describeFailure(error, this.config.timeoutMs),
        excerpt: null,
      };
    }
  }
}
