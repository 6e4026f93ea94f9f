import { InjectQueue } from '@nestjs/bull';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Queue } from 'bull';
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { ApiError } from '../common/api-error';
import { JobData, QueueName } from '../common/queues';
import { appConfig, callbacksConfig } from '../config/configuration';
import { reportPath, statusPath } from '../reports/report-links';
import { CallbackAttempt, CallbackEvent, CallbackStatus } from './callback-event.entity';
import { decryptSecret, encryptSecret, generateWebhookSecret } from './signing';

export enum CallbackErrorCode {
  CallbackUrlNotAllowed = 'CALLBACK_URL_NOT_ALLOWED',
  CallbackNotFound = 'CALLBACK_NOT_FOUND',
}

/** How long the secret before a rotation keeps signing alongside the new one. */
export const ROTATION_OVERLAP_MS = 24 * 3600 * 1000;

/** What a report's callback says about how it ended. */
export type ReportOutcome =
  { status: 'COMPLETED' } | { status: 'FAILED'; errorCode: string; errorMessage: string };

export interface CallbackSummary {
  status: CallbackStatus;
  attempts: number;
}

@Injectable()
export class CallbacksService {
  private readonly logger = new Logger(CallbacksService.name);

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @InjectQueue(QueueName.CallbackDelivery)
    private readonly queue: Queue<JobData[QueueName.CallbackDelivery]>,
    @Inject(appConfig.KEY) private readonly app: ConfigType<typeof appConfig>,
    @Inject(callbacksConfig.KEY) private readonly config: ConfigType<typeof callbacksConfig>,
  ) {}

  /**
   * The callback event a report that ended this way sends, if it has a callback_url: its id (the
   * webhook-id of every attempt) and the exact body. The report's final state writes it
   * (report-render.processor.ts), so that a report never ends without its callback being due.
   */
  newEvent(
    report: { id: string; callbackUrl: string | null },
    outcome: ReportOutcome,
  ): { id: string; payload: string } | undefined {
    if (!report.callbackUrl) return undefined;
    const base = this.app.publicBaseUrl;
    const payload =
      outcome.status === 'COMPLETED'
        ? {
            id: report.id,
            status: outcome.status,
            links: [{ rel: 'reports', href: base + reportPath(report.id) }],
          }
        : {
            id: report.id,
            status: outcome.status,
            error: { error_code: outcome.errorCode, error_message: outcome.errorMessage },
            links: [{ rel: 'status', href: base + statusPath(report.id) }],
          };
    return { id: `msg_${randomUUID().replace(/-/g, '')}`, payload: JSON.stringify(payload) };
  }

  /** Queues one attempt; the job id makes queueing the same attempt twice harmless. */
  async enqueue(eventId: string, attempt: number, delayMs = 0): Promise<void> {
    await this.queue.add(
      { eventId, attempt },
      {
        jobId: `${eventId}:${attempt}`,
        delay: delayMs,
        attempts: 3,
        backoff: { type: 'exponential', delay: 1000 },
        removeOnComplete: true,
        removeOnFail: true,
      },
    );
  }

  async attempts(reportId: string): Promise<CallbackAttempt[]> {
    return this.dataSource
      .getRepository(CallbackAttempt)
      .createQueryBuilder('a')
      .innerJoin(CallbackEvent, 'e', 'e.id = a.event_id')
      .where('e.report_id = :reportId', { reportId })
      .orderBy('a.attempt', 'ASC')
      .getMany();
  }

  /** Sends the report's event again now, with the same webhook-id, whatever became of it. */
  async redeliver(reportId: string): Promise<CallbackEvent> {
    const [rows] = await this.dataSource.query<[CallbackEvent[], number]>(
      `UPDATE callback_events SET status = 'PENDING', next_attempt_at = now(), updated_at = now()
        WHERE report_id = $1
        RETURNING id, attempts`,
      [reportId],
    );
    const event = rows[0];
    if (!event) {
      throw new ApiError(
        404,
        CallbackErrorCode.CallbackNotFound,
        'This report has no callback to send: it has no callback_url, or it has not finished yet',
      );
    }
    // The next attempt may already wait for its retry (a delayed job with the same id, which
    // enqueueing again would leave as it is): then it is sent now.
    const waiting = await this.queue.getJob(`${event.id}:${event.attempts + 1}`);
    if (waiting && (await waiting.isDelayed())) await waiting.promote();
    else await this.enqueue(event.id, event.attempts + 1);
    return event;
  }

  /** A new secret; the current one keeps signing for ROTATION_OVERLAP_MS. */
  async rotateSecret(
    clientId: string,
  ): Promise<{ webhook_secret: string; previous_secret_expires_at: string }> {
    const secret = generateWebhookSecret();
    const expiresAt = new Date(Date.now() + ROTATION_OVERLAP_MS);
    await this.dataSource.query(
      `UPDATE clients SET previous_webhook_secret = webhook_secret,
              previous_webhook_secret_expires_at = $3, webhook_secret = $2
        WHERE id = $1`,
      [clientId, encryptSecret(secret, this.config.secretsKey), expiresAt],
    );
    return { webhook_secret: secret, previous_secret_expires_at: expiresAt.toISOString() };
  }

  /**
   * Decrypts the secrets that sign a client's callbacks now (the current one, then the previous
   * while its overlap lasts). A secret that does not decrypt (WEBHOOK_SECRETS_KEY changed) cannot
   * sign: it is left out, and with none left the attempt is recorded as failed rather than the
   * event stuck PENDING.
   */
  signingSecrets(clientId: string, encrypted: Array<string | null>): string[] {
    return encrypted
      .filter((value): value is string => Boolean(value))
      .flatMap((value) => {
        try {
          return [decryptSecret(value, this.config.secretsKey)];
        } catch {
          this.logger.warn(
            `Client ${clientId}: a webhook secret does not decrypt with WEBHOOK_SECRETS_KEY`,
          );
          return [];
        }
      });
  }
}
