import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { cursorInstantSql, Position } from '../common/pagination';
import { CallbackAttempt, CallbackEvent, CallbackStatus } from './callback-event.entity';

/** An event to send; `sending` while its latest attempt was started and not recorded. */
export type PendingEvent = Pick<
  CallbackEvent,
  'id' | 'reportId' | 'clientId' | 'url' | 'payload' | 'status' | 'attempts'
> & { sending: boolean };

/** What one attempt gave, as recorded. */
export interface RecordedAttempt {
  attempt: number;
  at: Date;
  statusCode: number | null;
  durationMs: number;
  error: string | null;
  excerpt: string | null;
  /** The event's state after it, and when the next attempt is due (PENDING only). */
  status: CallbackStatus;
  nextAttemptAt: Date | null;
}

/**
 * A report's callback as its status route shows it: `{status, attempts}`, null before its report has
 * finished. An SQL expression on the report row `reports`, so that the status route reads a report
 * and its callback in one query.
 */
export const CALLBACK_SUMMARY_SQL = `CASE WHEN reports.callback_url IS NOT NULL THEN (
    SELECT json_build_object('status', e.status, 'attempts', e.attempts)
      FROM callback_events e WHERE e.report_id = reports.id) END`;

/** Every statement on `callback_events` and `callback_attempts`: the callbacks' outbox. */
@Injectable()
export class CallbackEventsRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** Writes an event due now, in the caller's transaction. */
  async insert(
    transaction: EntityManager,
    event: Pick<CallbackEvent, 'id' | 'reportId' | 'clientId' | 'url' | 'payload'>,
  ): Promise<void> {
    await transaction.query(
      `INSERT INTO callback_events (id, report_id, client_id, url, payload, status, attempts,
                                    next_attempt_at)
       VALUES ($1, $2, $3, $4, $5, $6, 0, now())`,
      [event.id, event.reportId, event.clientId, event.url, event.payload, CallbackStatus.Pending],
    );
  }

  async find(id: string): Promise<PendingEvent | undefined> {
    const [event] = await this.dataSource.query<PendingEvent[]>(
      `SELECT id, report_id AS "reportId", client_id AS "clientId", url, payload, status, attempts,
              sending_since IS NOT NULL AS sending
         FROM callback_events WHERE id = $1`,
      [id],
    );
    return event;
  }

  /**
   * Counts attempt `attempt` before it is sent: the event must be PENDING with `attempt - 1` attempts
   * and none being sent. Until its result is recorded, the attempt is "sending", and is not due again
   * before `leaseMs` have passed (then `interrupted` finds it). False when another worker counted it.
   */
  async startAttempt(eventId: string, attempt: number, leaseMs: number): Promise<boolean> {
    const [, count] = await this.dataSource.query<[unknown[], number]>(
      `UPDATE callback_events
          SET attempts = $2, sending_since = now(), updated_at = now(),
              next_attempt_at = now() + make_interval(secs => $4::double precision / 1000)
        WHERE id = $1 AND status = $3 AND attempts = $2 - 1 AND sending_since IS NULL`,
      [eventId, attempt, CallbackStatus.Pending, leaseMs],
    );
    return count === 1;
  }

  /**
   * The result of the attempt being sent and the event's new state, in one statement (so,
   * atomically), and only once: false when it was recorded already (by `interrupted`'s caller, when
   * its worker seemed gone).
   */
  async recordAttempt(eventId: string, attempt: RecordedAttempt): Promise<boolean> {
    const rows = await this.dataSource.query<unknown[]>(
      `WITH event AS (
         UPDATE callback_events
            SET status = $8, next_attempt_at = $9, sending_since = NULL, updated_at = now()
          WHERE id = $1 AND attempts = $2 AND sending_since IS NOT NULL
         RETURNING id
       )
       INSERT INTO callback_attempts
              (event_id, attempt, at, status_code, duration_ms, error, response_excerpt)
       SELECT id, $2, $3, $4, $5, $6, $7 FROM event
       RETURNING attempt`,
      [
        eventId,
        attempt.attempt,
        attempt.at,
        attempt.statusCode,
        attempt.durationMs,
        attempt.error,
        attempt.excerpt,
        attempt.status,
        attempt.nextAttemptAt,
      ],
    );
    return rows.length === 1;
  }

  /**
   * Attempts counted and started more than `leaseMs` ago whose result was never recorded: their
   * worker died, or could not record it.
   */
  interrupted(
    leaseMs: number,
    limit: number,
  ): Promise<Array<{ id: string; attempts: number; sendingSince: Date }>> {
    return this.dataSource.query(
      `SELECT id, attempts, sending_since AS "sendingSince" FROM callback_events
        WHERE sending_since < now() - make_interval(secs => $1::double precision / 1000)
        ORDER BY sending_since LIMIT $2`,
      [leaseMs, limit],
    );
  }

  attemptsOfReport(reportId: string): Promise<CallbackAttempt[]> {
    return this.dataSource
      .getRepository(CallbackAttempt)
      .createQueryBuilder('a')
      .innerJoin(CallbackEvent, 'e', 'e.id = a.event_id')
      .where('e.report_id = :reportId', { reportId })
      .orderBy('a.attempt', 'ASC')
      .getMany();
  }

  /**
   * Makes the report's event due now, whatever became of it, unless it was redelivered less than
   * `everySeconds` ago: then the seconds left. Undefined when the report has no event.
   */
  async redeliver(
    reportId: string,
    everySeconds: number,
  ): Promise<Pick<CallbackEvent, 'id' | 'attempts'> | { waitSeconds: number } | undefined> {
    const [row] = await this.dataSource.query<
      Array<{ id: string; attempts: number; redelivered: boolean; waitSeconds: number }>
    >(
      `WITH event AS (
         SELECT id, attempts, redelivered_at FROM callback_events WHERE report_id = $1
       ), redelivered AS (
         -- Conditions on the row itself: a concurrent redeliver is waited for, then seen.
         UPDATE callback_events e
            SET status = $2, next_attempt_at = now(), redelivered_at = now(), updated_at = now()
          WHERE e.report_id = $1
            AND (e.redelivered_at IS NULL OR e.redelivered_at <= now() - make_interval(secs => $3))
         RETURNING e.id
       )
       SELECT event.id, event.attempts, EXISTS (SELECT 1 FROM redelivered) AS redelivered,
              -- NULL when a concurrent redeliver just won: its whole interval is left.
              coalesce(ceil(extract(epoch FROM
                event.redelivered_at + make_interval(secs => $3) - now())), $3)::int AS "waitSeconds"
         FROM event`,
      [reportId, CallbackStatus.Pending, everySeconds],
    );
    if (!row) return undefined;
    if (!row.redelivered) return { waitSeconds: Math.max(1, row.waitSeconds) };
    return { id: row.id, attempts: row.attempts };
  }

  /**
   * Undelivered events that were due more than `grace` ago, after `after` in (next_attempt_at, id)
   * order: the sweep's pages.
   */
  due(
    after: Position | undefined,
    grace: string,
    limit: number,
  ): Promise<Array<Position & { attempts: number }>> {
    return this.dataSource.query(
      `SELECT id, attempts, ${cursorInstantSql('next_attempt_at')} AS at FROM callback_events
        WHERE status = $1 AND next_attempt_at < now() - $2::interval AND sending_since IS NULL
          AND (next_attempt_at, id) > ($3::timestamptz, $4)
        ORDER BY next_attempt_at, id LIMIT $5`,
      [CallbackStatus.Pending, grace, after?.at ?? '-infinity', after?.id ?? '', limit],
    );
  }

  /**
   * Deletes the callback events of the reports, and their attempts (with the partners' answers'
   * excerpts), in the caller's transaction: the retention sweep. Answers how many of each.
   */
  async deleteOfReports(
    transaction: EntityManager,
    reportIds: string[],
  ): Promise<{ events: number; attempts: number }> {
    if (reportIds.length === 0) return { events: 0, attempts: 0 };
    const [, attempts] = await transaction.query<[unknown[], number]>(
      `DELETE FROM callback_attempts a USING callback_events e
        WHERE a.event_id = e.id AND e.report_id = ANY($1::uuid[])`,
      [reportIds],
    );
    const [, events] = await transaction.query<[unknown[], number]>(
      `DELETE FROM callback_events WHERE report_id = ANY($1::uuid[])`,
      [reportIds],
    );
    return { events, attempts };
  }
}
