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
import { DataSource } from 'typeorm';
import { CallbacksService } from '../callbacks/callbacks.service';
import { QueueWorker } from '../common/queue-worker';
import { JobData, MAX_STALLED_COUNT, QueueName } from '../common/queues';
import { appConfig, renderConfig, reportsConfig } from '../config/configuration';
import { MetricsService } from '../metrics/metrics.service';
import { periodBounds } from './period';
import { ReportErrorCode } from './report-errors';
import { ReportEvents } from './report-events';
import { ReportHtmlBuilder, ReportPart, ReportRow } from './rendering/report-html';
import { PdfRenderer, RenderError } from './rendering/pdf-renderer.service';

/** Orders read per query: keyset pages keep a large period out of memory as rows. */
const BATCH_SIZE = 2000;

type RenderJob = Job<JobData[QueueName.ReportRender]>;

/** A report as a claim returns it: what rendering it needs. */
interface ClaimedReport {
  id: string;
  clientId: string;
  clientName: string;
  startDate: string;
  endDate: string;
  callbackUrl: string | null;
  renderAttempts: number;
}

type OrderRow = ReportRow & { id: string };

/** The columns a report's final state writes; those not given are left empty. */
interface FinalState {
  status: 'COMPLETED' | 'FAILED';
  errorCode?: string;
  errorMessage?: string;
  orderCount?: number;
  pdfSize?: number;
  pdfEtag?: string;
  /** The claim whose chunks are the PDF: every other claim's chunks are dropped. */
  pdfAttempt?: number;
  renderMs?: number;
}

/** The report was deleted or finished by another claim while this one rendered it: stop. */
class ReportNoLongerRendering extends Error {
  constructor(reportId: string) {
    super(`Report ${reportId} was deleted or finished by another claim`);
  }
}

/** A failure that another attempt cannot fix. */
class PermanentFailure extends Error {
  constructor(
    readonly code: ReportErrorCode,
    message: string,
  ) {
    super(message);
  }
}

const FAILURE_MESSAGES: Record<string, string> = {
  [ReportErrorCode.RenderTimeout]: 'The PDF took too long to render',
  [ReportErrorCode.RenderFailed]: 'The PDF could not be rendered',
};

@Injectable()
export class ReportRenderProcessor implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(ReportRenderProcessor.name);
  private readonly worker: QueueWorker<JobData[QueueName.ReportRender]>;

  constructor(
    @InjectQueue(QueueName.ReportRender)
    queue: Queue<JobData[QueueName.ReportRender]>,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly renderer: PdfRenderer,
    private readonly callbacks: CallbacksService,
    private readonly events: ReportEvents,
    @Inject(appConfig.KEY) private readonly app: ConfigType<typeof appConfig>,
    @Inject(renderConfig.KEY) private readonly render: ConfigType<typeof renderConfig>,
    @Inject(reportsConfig.KEY) private readonly reports: ConfigType<typeof reportsConfig>,
    private readonly metrics: MetricsService,
  ) {
    this.worker = new QueueWorker(queue, this.logger);
  }

  /** Only processes with the worker role take render jobs. */
  onApplicationBootstrap(): void {
    if (this.app.role === 'api') return;
    void this.renderer.warmUp();
    this.worker.start(this.render.concurrency, (job: RenderJob) => this.handle(job));
    this.logger.log(`Rendering reports, ${this.render.concurrency} at a time`);
  }

  /** Stops taking jobs and waits for the running renders (Chromium closes after, on shutdown). */
  async onModuleDestroy(): Promise<void> {
    if (this.app.role !== 'api') await this.worker.stop();
  }

  async handle(job: RenderJob): Promise<void> {
    const { reportId } = job.data;
    const report = await this.start(reportId);
    if (!report) {
      this.logger.log({ reportId, msg: `Report ${reportId}: already finished or gone, skipped` });
      return;
    }
    await this.events.changed(reportId);
    // Every attempt and every stalled retake of every job the sweep queued again: a report that
    // keeps killing its worker (out of memory, a crash) ends FAILED instead of looping forever.
    if (report.renderAttempts > this.render.attempts + MAX_STALLED_COUNT) {
      this.logger.warn({
        reportId,
        msg: `Report ${reportId}: claimed ${report.renderAttempts} times without finishing, giving up`,
      });
      await this.fail(
        report,
        ReportErrorCode.RenderFailed,
        FAILURE_MESSAGES[ReportErrorCode.RenderFailed],
      );
      return;
    }
    try {
      await this.renderReport(report);
    } catch (error) {
      if (error instanceof ReportNoLongerRendering) {
        this.logger.log({
          reportId,
          msg: `Report ${reportId}: deleted or finished meanwhile, stopped`,
        });
        return;
      }
      const permanent = error instanceof PermanentFailure;
      const lastAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      const code =
        error instanceof PermanentFailure || error instanceof RenderError
          ? error.code
          : ReportErrorCode.RenderFailed;
      this.logger.warn({
        reportId,
        errorCode: code,
        msg:
          `Report ${reportId}: attempt ${job.attemptsMade + 1} failed with ${code} ` +
          `(${error instanceof Error ? error.message : String(error)})` +
          (permanent || lastAttempt ? ', giving up' : ', will retry'),
      });
      if (!permanent && !lastAttempt) throw error;
      const message = error instanceof PermanentFailure ? error.message : FAILURE_MESSAGES[code];
      await this.fail(report, code, message ?? FAILURE_MESSAGES[ReportErrorCode.RenderFailed]);
    }
  }

  /** Claims the report; undefined when it is already finished (Bull delivers at least once). */
  private async start(reportId: string): Promise<ClaimedReport | undefined> {
    const [rows] = await this.dataSource.query<[ClaimedReport[], number]>(
      `UPDATE reports SET status = 'IN_PROGRESS', progress = 1, render_attempts = render_attempts + 1,
              started_at = coalesce(started_at, now()), updated_at = now()
        WHERE id = $1 AND status IN ('PENDING', 'IN_PROGRESS')
        RETURNING id, client_id AS "clientId", start_date::text AS "startDate",
                  end_date::text AS "endDate", callback_url AS "callbackUrl",
                  render_attempts AS "renderAttempts",
                  (SELECT name FROM clients WHERE clients.id = reports.client_id) AS "clientName"`,
      [reportId],
    );
    return rows[0];
  }

  private async renderReport(report: ClaimedReport): Promise<void> {
    const started = Date.now();
    const period = periodBounds(report.startDate, report.endDate);
    // A period that fits in one batch is counted by reading it: one query fewer per small report.
    const firstBatch = await this.readBatch(report, period);
    const count =
      firstBatch.length < BATCH_SIZE ? firstBatch.length : await this.countOrders(report, period);
    if (count > this.reports.maxOrders) {
      throw new PermanentFailure(
        ReportErrorCode.ReportTooLarge,
        `The period holds ${count} orders, more than the ${this.reports.maxOrders} a report may hold`,
      );
    }

    const builder = new ReportHtmlBuilder(
      {
        clientName: report.clientName,
        startDate: report.startDate,
        endDate: report.endDate,
        generatedAt: new Date(),
      },
      this.render.rowsPerPage,
      ReportHtmlBuilder.partRows(count, this.render.rowsPerPart),
    );
    const partCount = Math.max(1, Math.ceil(count / builder.partRows));
    const parts = this.readParts(report, builder, count, period, firstBatch);
    // This claim writes its own chunks: a stalled job taken again meanwhile writes others.
    const attempt = report.renderAttempts;
    let seq = 0;
    let lastChunk: Promise<unknown> = Promise.resolve();
    let refused = false;
    const pdf = await this.renderer
      .render(
        parts,
        // Written only while the report is being rendered, and refused once it is deleted or has
        // its final state (FOR SHARE waits for a final state being written, then sees it): the
        // render stops there, rather than print a PDF nobody will store.
        (chunk) => {
          const written = this.dataSource.query<unknown[]>(
            `INSERT INTO report_file_chunks (report_id, attempt, seq, data)
             SELECT $1, $2, $3, $4 WHERE EXISTS (
               SELECT 1 FROM reports WHERE id = $1 AND status = 'IN_PROGRESS' FOR SHARE)
             RETURNING seq`,
            [report.id, attempt, seq++, chunk],
          );
          lastChunk = written.catch(() => undefined);
          return written.then((rows) => {
            refused ||= rows.length === 0;
            if (refused) throw new ReportNoLongerRendering(report.id);
          });
        },
        partCount,
      )
      .catch(async (error: unknown) => {
        await this.deleteChunks(report.id, attempt);
        // A chunk still being written when the render gave up (the renderer waits 5 s for it)
        // would land after that DELETE: it is dropped once it has.
        void lastChunk.then(() => this.deleteChunks(report.id, attempt));
        // However the renderer reports it (a failed part, a timeout that won the race), a
        // refused chunk means the report is gone or finished: nothing to retry.
        throw refused ? new ReportNoLongerRendering(report.id) : error;
      });
    const renderMs = Date.now() - started;
    const completed = await this.finish(report, {
      status: 'COMPLETED',
      orderCount: builder.orderCount,
      pdfSize: pdf.bytes,
      pdfEtag: `"${pdf.sha256}"`,
      pdfAttempt: attempt,
      renderMs,
    });
    if (!completed) {
      // Deleted meanwhile, or finished by another claim: that one's PDF, or none, stands.
      await this.deleteChunks(report.id, attempt);
      this.logger.log({ reportId: report.id, msg: `Report ${report.id}: rendered, not stored` });
      return;
    }
    this.metrics.renders.inc({ outcome: 'completed' });
    this.metrics.renderDuration.observe(renderMs / 1000);
    this.metrics.renderPdfBytes.observe(pdf.bytes);
    this.logger.log({
      reportId: report.id,
      msg:
        `Report ${report.id}: ${builder.orderCount} orders, ${pdf.pages} pages, ` +
        `${pdf.bytes} bytes in ${renderMs} ms`,
    });
  }

  /**
   * Reads the period's orders in keyset batches, from the first one already read, and hands each
   * part to the renderer as soon as it is full, so that reading and printing overlap and a long
   * report is never held whole.
   */
  private async *readParts(
    report: ClaimedReport,
    builder: ReportHtmlBuilder,
    count: number,
    period: { from: Date; to: Date },
    firstBatch: OrderRow[],
  ): AsyncGenerator<ReportPart> {
    let rows = firstBatch;
    let progress = 1;
    builder.addRows(rows);
    yield* builder.takeReady();
    if (rows.length < BATCH_SIZE) return yield* builder.finish();
    while (rows.length === BATCH_SIZE) {
      const next = Math.floor((90 * builder.orderCount) / Math.max(1, count));
      if (next >= progress + 10) {
        progress = next;
        await this.setProgress(report.id, progress);
      }
      rows = await this.readBatch(report, period, rows[rows.length - 1]);
      builder.addRows(rows);
      yield* builder.takeReady();
    }
    // Every row is read: what is left is printing the last parts and joining them. (A report read
    // in one batch goes from 1 to 100 at once.)
    if (progress < 90) await this.setProgress(report.id, 90);
    yield* builder.finish();
  }

  /** The period's next BATCH_SIZE orders, in (placed_at, id) order, after `after` if given. */
  private readBatch(
    report: ClaimedReport,
    period: { from: Date; to: Date },
    after?: OrderRow,
  ): Promise<OrderRow[]> {
    return this.dataSource.query<OrderRow[]>(
      `SELECT id, number, placed_at AS "placedAt", customer_name AS "customerName", status,
              item_count AS "itemCount", total, currency
         FROM orders
        WHERE client_id = $1 AND placed_at >= $2 AND placed_at < $3
          AND ($4::timestamptz IS NULL OR (placed_at, id) > ($4, $5::uuid))
        ORDER BY placed_at, id
        LIMIT ${BATCH_SIZE}`,
      [report.clientId, period.from, period.to, after?.placedAt ?? null, after?.id ?? null],
    );
  }

  private async countOrders(
    report: ClaimedReport,
    period: { from: Date; to: Date },
  ): Promise<number> {
    const [{ count }] = await this.dataSource.query<{ count: number }[]>(
      `SELECT count(*)::int AS count FROM orders
        WHERE client_id = $1 AND placed_at >= $2 AND placed_at < $3`,
      [report.clientId, period.from, period.to],
    );
    return count;
  }

  private async setProgress(reportId: string, progress: number): Promise<void> {
    await this.dataSource.query(
      `UPDATE reports SET progress = $2, updated_at = now() WHERE id = $1 AND status = 'IN_PROGRESS'`,
      [reportId, progress],
    );
  }

  /** Ends the report FAILED, and counts it unless it was already finished or deleted. */
  private async fail(report: ClaimedReport, code: string, message: string): Promise<void> {
    const settled = await this.finish(report, {
      status: 'FAILED',
      errorCode: code,
      errorMessage: message,
    });
    if (settled) this.metrics.renders.inc({ outcome: 'failed' });
  }

  /**
   * Gives the report its final state, drops the chunks that are not its PDF (a FAILED report keeps
   * none) and writes its callback event, in one statement: a report never ends without its
   * callback being due. Then queues the first delivery attempt. Answers false, having written
   * nothing, when the report was deleted or another delivery of the job finished it first.
   */
  private async finish(report: ClaimedReport, state: FinalState): Promise<boolean> {
    const event = this.callbacks.newEvent(
      report,
      state.status === 'COMPLETED'
        ? { status: 'COMPLETED' }
        : { status: 'FAILED', errorCode: state.errorCode!, errorMessage: state.errorMessage! },
    );
    const [{ settled }] = await this.dataSource.query<{ settled: boolean }[]>(
      `WITH settled AS (
         UPDATE reports
            SET status = $2, error_code = $3, error_message = $4, order_count = $5, pdf_size = $6,
                pdf_etag = $7, pdf_attempt = $8, render_ms = $9,
                progress = CASE WHEN $2 = 'COMPLETED' THEN 100 ELSE progress END,
                completed_at = now(), updated_at = now()
          WHERE id = $1 AND (status = 'IN_PROGRESS' OR ($2 = 'FAILED' AND status = 'PENDING'))
         RETURNING id, client_id, callback_url
       ), dropped AS (
         DELETE FROM report_file_chunks
          WHERE report_id IN (SELECT id FROM settled) AND attempt IS DISTINCT FROM $8
       ), event AS (
         INSERT INTO callback_events
                (id, report_id, client_id, url, payload, status, attempts, next_attempt_at)
         SELECT $10, id, client_id, callback_url, $11, 'PENDING', 0, now()
           FROM settled WHERE $10::text IS NOT NULL
       )
       SELECT EXISTS (SELECT 1 FROM settled) AS settled`,
      [
        report.id,
        state.status,
        state.errorCode ?? null,
        state.errorMessage ?? null,
        state.orderCount ?? null,
        state.pdfSize ?? null,
        state.pdfEtag ?? null,
        state.pdfAttempt ?? null,
        state.renderMs ?? null,
        event?.id ?? null,
        event?.payload ?? null,
      ],
    );
    if (!settled) return false;
    await this.events.changed(report.id);
    if (event) await this.callbacks.enqueue(event.id, 1);
    return true;
  }

  /** Drops the chunks one claim wrote, when they will not be the PDF. Never fails the caller. */
  private async deleteChunks(reportId: string, attempt: number): Promise<void> {
    await this.dataSource
      .query(`DELETE FROM report_file_chunks WHERE report_id = $1 AND attempt = $2`, [
        reportId,
        attempt,
      ])
      .catch((error: unknown) => {
        this.logger.warn({ reportId, msg: `Report ${reportId}: chunks left: ${String(error)}` });
      });
  }
}
