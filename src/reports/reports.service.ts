import { InjectQueue } from '@nestjs/bull';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import type { Queue } from 'bull';
import DataLoader from 'dataloader';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { DataSource, Repository } from 'typeorm';
import { CallbackErrorCode, CallbackSummary } from '../callbacks/callbacks.service';
import { callbackUrlProblem } from '../callbacks/ssrf';
import { ApiError } from '../common/api-error';
import { cursorInstantSql, decodeCursor, encodeCursor, isUuid, Page } from '../common/pagination';
import { JobData, QueueName } from '../common/queues';
import { withTimeout } from '../common/with-timeout';
import { callbacksConfig, renderConfig, reportsConfig } from '../config/configuration';
import { CreateReportDto } from './dto/create-report.dto';
import { ListReportsQuery } from './dto/list-reports.query';
import { periodBounds, periodErrors } from './period';
import { Report, REPORT_COLUMNS, ReportStatus } from './report.entity';
import { ReportErrorCode } from './report-errors';
import { estimateRetryAfter } from './retry-after';

/** Assumed render time until the first reports have rendered. */
const DEFAULT_RENDER_MS = 2000;
/** How long the queue depth and mean render time are reused before being read again. */
const ESTIMATE_TTL_MS = 1000;
/** Redis is a queue that may be away: a request never waits on it longer than this. */
const REDIS_WAIT_MS = 1000;
/** How long an Idempotency-Key answers with the same report. */
const IDEMPOTENCY_WINDOW = '24 hours';
/** The most report reads one query carries. */
const MAX_READ_BATCH = 100;
/** A report with a callback_url: its callback's state, null before the report has finished. */
const CALLBACK_SUMMARY = `CASE WHEN callback_url IS NOT NULL THEN (
    SELECT json_build_object('status', e.status, 'attempts', e.attempts)
      FROM callback_events e WHERE e.report_id = reports.id) END AS "callback"`;

export function renderJobOptions(reportId: string, attempts: number) {
  return {
    jobId: reportId,
    attempts,
    backoff: { type: 'exponential', delay: 2000 },
    removeOnComplete: true,
    removeOnFail: true,
  };
}

/** The same body hashes the same whatever the order of its keys. */
function requestHash(dto: CreateReportDto): string {
  const canonical = JSON.stringify([dto.start_date, dto.end_date, dto.callback_url ?? null]);
  return createHash('sha256').update(canonical).digest('hex');
}

interface QueueEstimate {
  jobsAhead: number;
  meanRenderMs: number;
}

/** A report as a client's request reads it: with its callback's state, for the status route. */
export type ReadReport = Report & { callback: CallbackSummary | null };

export interface CreatedReport {
  report: Report;
  /** True when an Idempotency-Key replay answered an existing report. */
  replayed: boolean;
}

@Injectable()
export class ReportsService {
  private readonly logger = new Logger(ReportsService.name);
  private estimate?: { at: number; value: Promise<QueueEstimate> };
  /**
   * Reads of a client's reports by id: those asked for in one turn of the event loop share one
   * query, which reads each row for the client that asked for it and no other. Under
   * load the status route's polls arrive together (measured: 8 per query at 20 connections), and a
   * query's round trip, not Postgres's work, is what a poll costs most. Nothing is cached: each
   * read is a query sent after its request arrived.
   */
  private readonly reads = new DataLoader<{ clientId: string; id: string }, ReadReport | undefined>(
    async (keys) => {
      const rows = await this.dataSource.query<ReadReport[]>(
        `SELECT ${REPORT_COLUMNS}, ${CALLBACK_SUMMARY} FROM reports
          WHERE (client_id, id) IN (SELECT * FROM unnest($1::uuid[], $2::uuid[]))`,
        [keys.map((key) => key.clientId), keys.map((key) => key.id)],
      );
      const byKey = new Map(rows.map((row) => [`${row.clientId}/${row.id}`, row]));
      return keys.map((key) => byKey.get(`${key.clientId}/${key.id}`));
    },
    { cache: false, batchScheduleFn: (read) => setImmediate(read), maxBatchSize: MAX_READ_BATCH },
  );

  constructor(
    @InjectRepository(Report) private readonly reports: Repository<Report>,
    @InjectDataSource() private readonly dataSource: DataSource,
    @InjectQueue(QueueName.ReportRender)
    private readonly renderQueue: Queue<JobData[QueueName.ReportRender]>,
    @Inject(reportsConfig.KEY) private readonly config: ConfigType<typeof reportsConfig>,
    @Inject(renderConfig.KEY) private readonly render: ConfigType<typeof renderConfig>,
    @Inject(callbacksConfig.KEY) private readonly callbacks: ConfigType<typeof callbacksConfig>,
  ) {}

  async create(
    clientId: string,
    dto: CreateReportDto,
    idempotencyKey?: string,
  ): Promise<CreatedReport> {
    const problems = periodErrors(dto.start_date, dto.end_date, this.config.maxRangeDays);
    if (problems.length > 0) throw ApiError.validation(problems);
    const hash = requestHash(dto);
    if (idempotencyKey) {
      const existing = await this.findByIdempotencyKey(clientId, idempotencyKey);
      if (existing) return { report: this.replay(existing, hash), replayed: true };
    }
    if (dto.callback_url !== undefined) await this.checkCallbackUrl(dto.callback_url);
    await this.checkSize(clientId, dto);

    const [report] = await this.dataSource.query<Report[]>(
      `INSERT INTO reports (client_id, start_date, end_date, callback_url, idempotency_key, request_hash)
       VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (client_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
       RETURNING ${REPORT_COLUMNS}`,
      [
        clientId,
        dto.start_date,
        dto.end_date,
        dto.callback_url ?? null,
        idempotencyKey ?? null,
        hash,
      ],
    );
    if (!report) {
      // A concurrent request with the same key won the insert: answer its report.
      const winner = await this.findByIdempotencyKey(clientId, idempotencyKey!);
      if (!winner) throw new Error('Idempotency-Key conflict without a report');
      return { report: this.replay(winner, hash), replayed: true };
    }
    await this.enqueue(report.id);
    return { report, replayed: false };
  }

  /**
   * Queues the render. When Redis does not answer the report is still accepted: it is in Postgres,
   * and the sweep (ReportSweeper) queues it once Redis is back.
   */
  async enqueue(reportId: string): Promise<void> {
    try {
      await withTimeout(
        this.renderQueue.add({ reportId }, renderJobOptions(reportId, this.render.attempts)),
        REDIS_WAIT_MS,
        'enqueue',
      );
    } catch (error) {
      this.logger.warn({
        reportId,
        msg: `Report ${reportId}: not queued now (${String(error)}); the sweep will queue it`,
      });
    }
  }

  /** The client's own report; another client's id is answered exactly as an unknown one. */
  async findForClient(clientId: string, id: string): Promise<ReadReport> {
    const report = isUuid(id) ? await this.reads.load({ clientId, id }) : undefined;
    if (!report) throw new ApiError(404, ReportErrorCode.ReportNotFound, 'No such report');
    return report;
  }

  /**
   * Newest first, on the (created_at, id) keyset. The cursor carries created_at as Postgres writes it,
   * to the microsecond: a JS Date would round it to the millisecond, and reports created within one
   * millisecond would then be skipped or repeated at a page boundary.
   */
  async list(clientId: string, query: ListReportsQuery): Promise<Page<Report>> {
    const params: unknown[] = [clientId, query.limit + 1];
    const conditions = ['client_id = $1'];
    if (query.status) {
      params.push(query.status);
      conditions.push(`status = $${params.length}`);
    }
    if (query.cursor) {
      const { at, id } = decodeCursor(query.cursor);
      params.push(at, id);
      conditions.push(
        `(created_at, id) < ($${params.length - 1}::timestamptz, $${params.length}::uuid)`,
      );
    }
    const rows = await this.dataSource.query<(Report & { cursorAt: string })[]>(
      `SELECT ${REPORT_COLUMNS}, ${cursorInstantSql('created_at')} AS "cursorAt"
         FROM reports WHERE ${conditions.join(' AND ')}
        ORDER BY created_at DESC, id DESC LIMIT $2`,
      params,
    );
    const page = rows.slice(0, query.limit);
    const last = page[page.length - 1];
    return {
      data: page.map(({ cursorAt: _cursorAt, ...report }) => report),
      next_cursor:
        rows.length > query.limit && last ? encodeCursor({ at: last.cursorAt, id: last.id }) : null,
    };
  }

  /**
   * DELETE: cancels an unfinished report, which is then gone (404 everywhere), or deletes a
   * finished one's PDF: a COMPLETED report becomes EXPIRED, as REPORT_TTL_HOURS would make it (the
   * status route says EXPIRED, the PDF route answers 410), and keeps its callback history. A FAILED
   * or EXPIRED report has no PDF: nothing changes. Two statements, each seeing what is committed
   * when it runs: a render finishing meanwhile leaves the first nothing to cancel, and the second
   * finds the report COMPLETED.
   */
  async remove(report: Report): Promise<void> {
    const [{ cancelled }] = await this.dataSource.query<{ cancelled: boolean }[]>(
      `WITH cancelled AS (
         DELETE FROM reports WHERE id = $1 AND status IN ('PENDING', 'IN_PROGRESS') RETURNING id
       )
       SELECT EXISTS (SELECT 1 FROM cancelled) AS cancelled`,
      [report.id],
    );
    if (cancelled) await this.dropJob(report.id);
    else await this.expire({ reportId: report.id });
  }

  /**
   * Deletes the PDFs of COMPLETED reports and marks them EXPIRED: the one report given, or every
   * report completed more than `olderThanHours` ago (the sweep). Answers how many.
   */
  async expire(which: { reportId: string } | { olderThanHours: number }): Promise<number> {
    const [condition, value] =
      'reportId' in which
        ? ['id = $1', which.reportId]
        : ['completed_at < now() - make_interval(hours => $1)', which.olderThanHours];
    const [{ count }] = await this.dataSource.query<{ count: number }[]>(
      `WITH expired AS (
         UPDATE reports SET status = 'EXPIRED', updated_at = now()
          WHERE status = 'COMPLETED' AND ${condition}
          RETURNING id
       ), deleted AS (
         DELETE FROM report_file_chunks WHERE report_id IN (SELECT id FROM expired)
       )
       SELECT count(*)::int AS count FROM expired`,
      [value],
    );
    return count;
  }

  /** A cancelled report's job: a waiting one is dropped; a running one finds its report gone. */
  private async dropJob(reportId: string): Promise<void> {
    try {
      const job = await withTimeout(this.renderQueue.getJob(reportId), REDIS_WAIT_MS, 'getJob');
      if (job && !(await job.isActive())) await job.remove();
    } catch (error) {
      this.logger.warn({
        reportId,
        msg: `Report ${reportId}: its job was not removed (${String(error)})`,
      });
    }
  }

  /**
   * The PDF, read a chunk at a time as the client takes it: serving a long report holds one chunk.
   * Undefined, before anything is sent, when the PDF is not stored (expired or deleted meanwhile).
   */
  async pdf(report: Report): Promise<Readable | undefined> {
    const chunk = async (seq: number): Promise<Buffer | undefined> => {
      const [row] = await this.dataSource.query<{ data: Buffer }[]>(
        `SELECT data FROM report_file_chunks WHERE report_id = $1 AND attempt = $2 AND seq = $3`,
        [report.id, report.pdfAttempt, seq],
      );
      return row?.data;
    };
    const first = await chunk(0);
    if (!first) return undefined;
    const size = report.pdfSize ?? 0;
    async function* chunks(head: Buffer) {
      yield head;
      let sent = head.length;
      for (let seq = 1; sent < size; seq += 1) {
        const next = await chunk(seq);
        // Expired or deleted mid-download: break the connection rather than end short of
        // Content-Length, which a client would wait on.
        if (!next) throw new Error(`PDF of report ${report.id} ends at ${sent} of ${size} bytes`);
        sent += next.length;
        yield next;
      }
    }
    return Readable.from(chunks(first), { objectMode: false });
  }

  /** Seconds until the report is likely done, from the work ahead and the recent render times. */
  async retryAfter(report: Report): Promise<number> {
    const { jobsAhead, meanRenderMs } = await this.queueEstimate();
    return estimateRetryAfter({
      jobsAhead: report.status === ReportStatus.Pending ? jobsAhead : 0,
      concurrency: this.render.concurrency,
      meanRenderMs,
      progress: report.progress,
    });
  }

  private async findByIdempotencyKey(clientId: string, key: string): Promise<Report | null> {
    return this.reports
      .createQueryBuilder('r')
      .where('r.client_id = :clientId AND r.idempotency_key = :key', { clientId, key })
      .andWhere(`r.created_at > now() - interval '${IDEMPOTENCY_WINDOW}'`)
      .getOne()
      .then(async (report) => {
        if (report) return report;
        // An older report keeps its key no longer: free it for the new request.
        await this.dataSource.query(
          `UPDATE reports SET idempotency_key = NULL
            WHERE client_id = $1 AND idempotency_key = $2
              AND created_at <= now() - interval '${IDEMPOTENCY_WINDOW}'`,
          [clientId, key],
        );
        return null;
      });
  }

  private replay(report: Report, hash: string): Report {
    if (report.requestHash !== hash) {
      throw new ApiError(
        422,
        ReportErrorCode.IdempotencyKeyReused,
        'This Idempotency-Key was used with a different body in the last 24 hours',
      );
    }
    return report;
  }

  /** Refused at request time; the delivery checks the address again at connection time. */
  private async checkCallbackUrl(url: string): Promise<void> {
    const problem = await callbackUrlProblem(url, this.callbacks.allowPrivateNetworks);
    if (problem?.code === 'VALIDATION_FAILED') {
      throw ApiError.validation([{ field: 'callback_url', message: problem.message }]);
    }
    if (problem) throw new ApiError(400, CallbackErrorCode.CallbackUrlNotAllowed, problem.message);
  }

  /** Counts at most REPORT_MAX_ORDERS + 1 rows on the (client_id, placed_at) index: bounded work. */
  private async checkSize(clientId: string, dto: CreateReportDto): Promise<void> {
    const { from, to } = periodBounds(dto.start_date, dto.end_date);
    const [{ count }] = await this.dataSource.query<{ count: number }[]>(
      `SELECT count(*)::int AS count FROM (
         SELECT 1 FROM orders WHERE client_id = $1 AND placed_at >= $2 AND placed_at < $3 LIMIT $4
       ) capped`,
      [clientId, from, to, this.config.maxOrders + 1],
    );
    if (count > this.config.maxOrders) {
      throw new ApiError(
        422,
        ReportErrorCode.ReportTooLarge,
        `The period holds more than ${this.config.maxOrders} orders; ask for a shorter period`,
      );
    }
  }

  /** Read at most once per ESTIMATE_TTL_MS: polls arriving meanwhile share the read in flight. */
  private queueEstimate(): Promise<QueueEstimate> {
    if (!this.estimate || Date.now() - this.estimate.at >= ESTIMATE_TTL_MS) {
      this.estimate = { at: Date.now(), value: this.readQueueEstimate() };
    }
    return this.estimate.value;
  }

  private async readQueueEstimate(): Promise<QueueEstimate> {
    const [counts, [recent]] = await Promise.all([
      withTimeout(this.renderQueue.getJobCounts(), REDIS_WAIT_MS, 'job counts').catch(() => null),
      this.dataSource
        .query<{ mean: string | null }[]>(
          `SELECT avg(render_ms) AS mean FROM (
             SELECT render_ms FROM reports WHERE status = 'COMPLETED'
             ORDER BY completed_at DESC LIMIT 20) recent`,
        )
        .catch(() => [{ mean: null }]),
    ]);
    return {
      jobsAhead: counts ? Math.max(0, counts.waiting + counts.active + counts.delayed - 1) : 0,
      meanRenderMs: recent?.mean ? Number(recent.mean) : DEFAULT_RENDER_MS,
    };
  }
}
