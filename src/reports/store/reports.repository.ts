import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import DataLoader from 'dataloader';
import { DataSource, EntityManager } from 'typeorm';
import { CALLBACK_SUMMARY_SQL } from '../../callbacks/callback-events.repository';
import { cursorInstantSql, decodeCursor, isUuid, Position } from '../../common/pagination';
import { FairQueueSource, QueuedItem, QueuedState } from '../../fair-queue/fair-queue';
import {
  Admission,
  ClaimedReport,
  FinalState,
  NewReport,
  ReadReport,
  Report,
  ReportStatus,
} from './report.entity';

/**
 * Every Report column as its property, for raw queries on hot paths (the status route reads one
 * report per poll; TypeORM's query builder costs more CPU than the query). Dates stay YYYY-MM-DD.
 */
const REPORT_COLUMNS = `id, client_id AS "clientId", start_date::text AS "startDate",
  end_date::text AS "endDate", time_zone AS "timeZone", status, progress, error_code AS "errorCode",
  error_message AS "errorMessage", callback_url AS "callbackUrl", idempotency_key AS "idempotencyKey",
  request_hash AS "requestHash", order_count AS "orderCount", pdf_size AS "pdfSize",
  pdf_etag AS "pdfEtag", pdf_pages AS "pdfPages", pdf_attempt AS "pdfAttempt", render_ms AS "renderMs",
  render_attempts AS "renderAttempts", fair_round AS "fairRound", created_at AS "createdAt",
  started_at AS "startedAt", completed_at AS "completedAt", updated_at AS "updatedAt"`;

const { Pending, InProgress, Completed, Failed, Expired } = ReportStatus;
const UNFINISHED = `('${Pending}', '${InProgress}')`;

/**
 * The most reports ahead a read counts (a poll costs that many index entries at most, not the
 * backlog's): Retry-After, the count's one use, hits its 60 s ceiling first when a render takes
 * 60 s × RENDER_CONCURRENCY / 1,000 or more; faster renders are told to poll earlier, never later.
 */
const JOBS_AHEAD_COUNTED = 1000;

/** Any fixed number: with a client's id, the lock that admits its reports one at a time. */
const ADMISSION_LOCK = 724_201_103;

/** How long an Idempotency-Key answers with the same report. */
const IDEMPOTENCY_WINDOW = '24 hours';
/** The most report reads one query carries. */
const MAX_READ_BATCH = 100;

/**
 * Every statement on `reports`: a report's whole life, from the request (insert) through the render
 * (claim, progress, settle) to its end (cancel, expire). The status values are ReportStatus's.
 */
@Injectable()
export class ReportsRepository implements FairQueueSource {
  /**
   * Reads of a client's reports by id: those asked for in one turn of the event loop share one
   * query, which reads each row for the client that asked for it and no other. Under load the
   * status route's polls arrive together (measured: 8 per query at 20 connections), and a query's
   * round trip, not Postgres's work, is what a poll costs most. Nothing is cached: each read is a
   * query sent after its request arrived.
   */
  private readonly reads = new DataLoader<{ clientId: string; id: string }, ReadReport | undefined>(
    async (keys) => {
      const rows = await this.dataSource.query<ReadReport[]>(
        `SELECT ${REPORT_COLUMNS}, ${CALLBACK_SUMMARY_SQL} AS "callback" FROM reports
          WHERE (client_id, id) IN (SELECT * FROM unnest($1::uuid[], $2::uuid[]))`,
        [keys.map((key) => key.clientId), keys.map((key) => key.id)],
      );
      const byKey = new Map(rows.map((row) => [`${row.clientId}/${row.id}`, row]));
      return keys.map((key) => byKey.get(`${key.clientId}/${key.id}`));
    },
    { cache: false, batchScheduleFn: (read) => setImmediate(read), maxBatchSize: MAX_READ_BATCH },
  );

  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * What admitting a report depends on, under the client's admission lock (held until
   * `transaction` ends): its reports are admitted one at a time, and each count sees the last one
   * admitted, so that the bound on unfinished reports holds under concurrent requests.
   */
  async admission(
    transaction: EntityManager,
    clientId: string,
    idempotencyKey: string | undefined,
    bounds: { unfinished: number; backlog: number },
  ): Promise<Admission> {
    await transaction.query(`SELECT pg_advisory_xact_lock($1, hashtext($2))`, [
      ADMISSION_LOCK,
      clientId,
    ]);
    const [row] = await transaction.query<
      Array<Omit<Admission, 'existing'> & { existing: string | null }>
    >(
      `SELECT
         (SELECT id FROM reports WHERE client_id = $1 AND idempotency_key = $2
             AND created_at > now() - interval '${IDEMPOTENCY_WINDOW}') AS existing,
         (SELECT count(*)::int FROM (SELECT 1 FROM reports
             WHERE client_id = $1 AND status IN ${UNFINISHED} LIMIT $3) mine) AS unfinished,
         (SELECT count(*)::int FROM (SELECT 1 FROM reports
             WHERE status = '${Pending}' LIMIT $4) queued) AS backlog,
         CASE WHEN EXISTS (SELECT 1 FROM reports WHERE client_id = $1 AND status = '${InProgress}')
              THEN 0
              ELSE (SELECT count(*)::int FROM (SELECT 1 FROM reports ahead, (
                      SELECT fair_round, created_at, id FROM reports
                       WHERE client_id = $1 AND status = '${Pending}'
                       ORDER BY fair_round, created_at, id LIMIT 1) first
                     WHERE ahead.status = '${Pending}'
                       AND (ahead.fair_round, ahead.created_at, ahead.id)
                         < (first.fair_round, first.created_at, first.id)
                     LIMIT ${JOBS_AHEAD_COUNTED}) counted)
         END AS "clientAhead"`,
      [clientId, idempotencyKey ?? null, bounds.unfinished, bounds.backlog],
    );
    const existing = row.existing ? await this.findForClient(clientId, row.existing) : undefined;
    return { ...row, existing };
  }

  /**
   * The new PENDING report, `id` as its fair-queue place was reserved under, in the turn given
   * (FairQueue's); without one (Redis away, admission under the client's lock): one after its
   * client's previous unfinished report, and never before the turn being served now.
   * Undefined when a report with its Idempotency-Key exists after all.
   */
  async insert(
    executor: EntityManager,
    clientId: string,
    report: NewReport & { id: string; fairRound: number | null },
  ): Promise<ReadReport | undefined> {
    const [row] = await executor.query<ReadReport[]>(
      `INSERT INTO reports (id, client_id, start_date, end_date, callback_url, idempotency_key,
                           request_hash, time_zone, fair_round)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, coalesce($9, GREATEST(
         (SELECT coalesce(min(fair_round), 1) FROM reports WHERE status = '${Pending}'),
         (SELECT coalesce(max(fair_round), 0) + 1 FROM reports
           WHERE client_id = $2 AND status IN ${UNFINISHED}))))
       ON CONFLICT (client_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
       RETURNING ${REPORT_COLUMNS}, NULL AS "callback"`,
      [
        report.id,
        clientId,
        report.startDate,
        report.endDate,
        report.callbackUrl,
        report.idempotencyKey,
        report.requestHash,
        report.timeZone,
        report.fairRound,
      ],
    );
    return row;
  }

  /** The report an Idempotency-Key answers; an older one's key is freed for the new request. */
  async findByIdempotencyKey(clientId: string, key: string): Promise<ReadReport | undefined> {
    const [report] = await this.dataSource.query<ReadReport[]>(
      `SELECT ${REPORT_COLUMNS}, NULL AS "callback" FROM reports
        WHERE client_id = $1 AND idempotency_key = $2
          AND created_at > now() - interval '${IDEMPOTENCY_WINDOW}'`,
      [clientId, key],
    );
    if (report) return report;
    await this.dataSource.query(
      `UPDATE reports SET idempotency_key = NULL
        WHERE client_id = $1 AND idempotency_key = $2
          AND created_at <= now() - interval '${IDEMPOTENCY_WINDOW}'`,
      [clientId, key],
    );
    return undefined;
  }

  /** The client's own report (batched, see `reads`). */
  findForClient(clientId: string, id: string): Promise<ReadReport | undefined> {
    return this.reads.load({ clientId, id });
  }

  /**
   * Newest first, on the (created_at, id) keyset, one row more than `limit`. The cursor carries
   * created_at as Postgres writes it, to the microsecond: a JS Date would round it to the
   * millisecond, and reports created within one millisecond would then be skipped or repeated.
   */
  async list(
    clientId: string,
    page: { limit: number; status?: ReportStatus; cursor?: string },
  ): Promise<Array<Report & { cursorAt: string }>> {
    const cursor = page.cursor ? decodeCursor(page.cursor) : undefined;
    return this.dataSource.query(
      `SELECT ${REPORT_COLUMNS}, ${cursorInstantSql('created_at')} AS "cursorAt" FROM reports
        WHERE client_id = $1 AND ($3::text IS NULL OR status = $3)
          AND ($4::timestamptz IS NULL OR (created_at, id) < ($4::timestamptz, $5::uuid))
        ORDER BY created_at DESC, id DESC LIMIT $2`,
      [clientId, page.limit + 1, page.status ?? null, cursor?.at ?? null, cursor?.id ?? null],
    );
  }

  /** Claims the report for a render; undefined when it is finished or gone (Bull delivers at least once). */
  async claim(id: string): Promise<ClaimedReport | undefined> {
    const [rows] = await this.dataSource.query<[ClaimedReport[], number]>(
      `UPDATE reports SET status = '${InProgress}', progress = 1,
              render_attempts = render_attempts + 1,
              started_at = coalesce(started_at, now()), updated_at = now()
        WHERE id = $1 AND status IN ${UNFINISHED}
        RETURNING ${REPORT_COLUMNS}`,
      [id],
    );
    return rows[0];
  }

  async setProgress(id: string, progress: number): Promise<void> {
    await this.dataSource.query(
      `UPDATE reports SET progress = $2, updated_at = now() WHERE id = $1 AND status = '${InProgress}'`,
      [id, progress],
    );
  }

  /**
   * Holds the report IN_PROGRESS until `transaction` ends (a final state being written waits, then
   * is seen). False when it is finished or gone: nothing of this render should be stored.
   */
  async holdWhileRendering(transaction: EntityManager, id: string): Promise<boolean> {
    const rows = await transaction.query<unknown[]>(
      `SELECT 1 FROM reports WHERE id = $1 AND status = '${InProgress}' FOR SHARE`,
      [id],
    );
    return rows.length > 0;
  }

  /**
   * Gives a report being rendered its final state, in the caller's transaction. False, having
   * written nothing, when the report was deleted or another claim finished it first.
   */
  async settle(transaction: EntityManager, id: string, state: FinalState): Promise<boolean> {
    const completed = state.status === Completed ? state : undefined;
    const failed = state.status === Failed ? state : undefined;
    // UPDATE answers [rows, count] through TypeORM.
    const [rows] = await transaction.query<[unknown[], number]>(
      `UPDATE reports
          SET status = $2, error_code = $3, error_message = $4, order_count = $5, pdf_size = $6,
              pdf_etag = $7, pdf_attempt = $8, render_ms = $9, pdf_pages = $10,
              progress = CASE WHEN $2 = '${Completed}' THEN 100 ELSE progress END,
              completed_at = now(), updated_at = now()
        WHERE id = $1 AND (status = '${InProgress}' OR ($2 = '${Failed}' AND status = '${Pending}'))
        RETURNING id`,
      [
        id,
        state.status,
        failed?.errorCode ?? null,
        failed?.errorMessage ?? null,
        completed?.orderCount ?? null,
        completed?.pdfSize ?? null,
        completed?.pdfEtag ?? null,
        completed?.pdfAttempt ?? null,
        completed?.renderMs ?? null,
        completed?.pdfPages ?? null,
      ],
    );
    return rows.length > 0;
  }

  /** Deletes an unfinished report (its chunks go with it); false when it has finished. */
  async cancel(id: string): Promise<boolean> {
    const [rows] = await this.dataSource.query<[unknown[], number]>(
      `DELETE FROM reports WHERE id = $1 AND status IN ${UNFINISHED} RETURNING id`,
      [id],
    );
    return rows.length > 0;
  }

  /**
   * Marks EXPIRED the COMPLETED report given, or every report completed more than `olderThanHours`
   * ago (the sweep): no download starts after. Their PDFs' chunks are deleted after
   * PDF_PURGE_GRACE (ReportRetention), so that a download under way ends whole. Answers how many.
   */
  async expire(which: { reportId: string } | { olderThanHours: number }): Promise<number> {
    const [condition, value] =
      'reportId' in which
        ? ['id = $1', which.reportId]
        : ['completed_at < now() - make_interval(hours => $1)', which.olderThanHours];
    const [, count] = await this.dataSource.query<[unknown[], number]>(
      `UPDATE reports SET status = '${Expired}', updated_at = now(),
              pdf_purge_at = now() + interval '${PDF_PURGE_GRACE}'
        WHERE status = '${Completed}' AND ${condition}`,
      [value],
    );
    return count;
  }

  /** Unfinished reports created more than `grace` ago, after `after` in (created_at, id) order: the sweep's pages. */
  unfinished(
    after: Position | undefined,
    grace: string,
    limit: number,
  ): Promise<Array<Position & QueuedItem>> {
    return this.dataSource.query(
      `SELECT id, client_id AS "clientId", fair_round AS "fairRound",
              status = '${Pending}' AS waiting, ${cursorInstantSql('created_at')} AS at FROM reports
        WHERE status IN ${UNFINISHED} AND created_at < now() - $1::interval
          AND (created_at, id) > ($2::timestamptz, $3::uuid)
        ORDER BY created_at, id LIMIT $4`,
      [grace, after?.at ?? '-infinity', after?.id ?? '00000000-0000-0000-0000-000000000000', limit],
    );
  }

  /** The mean render time of the last 20 completed reports, or undefined before any. */
  async recentMeanRenderMs(): Promise<number | undefined> {
    const [recent] = await this.dataSource.query<{ mean: string | null }[]>(
      `SELECT avg(render_ms) AS mean FROM (
         SELECT render_ms FROM reports WHERE status = '${Completed}'
         ORDER BY completed_at DESC LIMIT 20) recent`,
    );
    return recent?.mean ? Number(recent.mean) : undefined;
  }

  /** Every unfinished report, waiting ones in the fair order (turn, then arrival): FairQueue's rebuild. */
  unfinishedInFairOrder(): Promise<QueuedItem[]> {
    return this.dataSource.query(
      `SELECT id, client_id AS "clientId", fair_round AS "fairRound", status = '${Pending}' AS waiting
         FROM reports WHERE status IN ${UNFINISHED}
        ORDER BY fair_round, created_at, id`,
    );
  }

  /** Of the reports given, those that exist: whether each waits for a render, renders, or is finished. */
  async queueStates(ids: string[]): Promise<Map<string, QueuedState>> {
    const rows = await this.dataSource.query<Array<{ id: string; state: QueuedState }>>(
      `SELECT id, CASE status WHEN '${Pending}' THEN 'waiting' WHEN '${InProgress}' THEN 'started'
                  ELSE 'finished' END AS state
         FROM reports WHERE id = ANY($1::uuid[])`,
      [ids.filter(isUuid)],
    );
    return new Map(rows.map((row) => [row.id, row.state]));
  }

  /**
   * Up to `limit` expired reports whose grace is over, locked in the caller's transaction, which
   * deletes their PDFs and clears the purges done (`purged`). Rows another sweep holds are skipped.
   */
  async duePurges(transaction: EntityManager, limit: number): Promise<string[]> {
    const rows = await transaction.query<{ id: string }[]>(
      `SELECT id FROM reports WHERE pdf_purge_at <= now()
        ORDER BY pdf_purge_at LIMIT $1 FOR UPDATE SKIP LOCKED`,
      [limit],
    );
    return rows.map(({ id }) => id);
  }

  /** The reports' PDFs are deleted: nothing more to purge. */
  async purged(transaction: EntityManager, ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    await transaction.query(`UPDATE reports SET pdf_purge_at = NULL WHERE id = ANY($1::uuid[])`, [
      ids,
    ]);
  }

  /**
   * Up to `limit` reports FAILED or EXPIRED more than `days` days after they finished, whose PDF
   * (if any) is gone, locked in the caller's transaction until it deletes them (`deleteRows`).
   */
  async finishedBefore(transaction: EntityManager, days: number, limit: number): Promise<string[]> {
    const rows = await transaction.query<{ id: string }[]>(
      `SELECT id FROM reports
        WHERE status IN ('${Failed}', '${Expired}')
          AND completed_at < now() - make_interval(days => $1)
          AND pdf_purge_at IS NULL
        ORDER BY completed_at LIMIT $2 FOR UPDATE SKIP LOCKED`,
      [days, limit],
    );
    return rows.map(({ id }) => id);
  }

  /** Deletes the reports' rows (what still refers to them goes with them: ON DELETE CASCADE). */
  async deleteRows(transaction: EntityManager, ids: string[]): Promise<number> {
    if (ids.length === 0) return 0;
    const [, count] = await transaction.query<[unknown[], number]>(
      `DELETE FROM reports WHERE id = ANY($1::uuid[])`,
      [ids],
    );
    return count;
  }
}

/**
 * How long an expired PDF's chunks outlive its expiry: a download that started before goes on
 * reading them (a chunk at a time) and ends whole; one that starts after is answered 410.
 */
export const PDF_PURGE_GRACE = '1 hour';
