import { InjectQueue } from '@nestjs/bull';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Queue } from 'bull';
import { Readable } from 'node:stream';
import { DataSource } from 'typeorm';
import { ApiError } from '../../common/api-error';
import { addJob, JobData, missingJobs, QueueName, renderJob } from '../../common/jobs';
import { encodeCursor, isUuid, Page, Position } from '../../common/pagination';
import { withTimeout } from '../../common/with-timeout';
import { renderConfig } from '../../config/configuration';
import { ListReportsQuery } from './dto/list-reports.query';
import {
  FINISHED_STATUSES,
  ReadReport,
  Report,
  ReportStatus,
  ReportStatusRead,
} from '../store/report.entity';
import { ReportEvents } from '../store/report-events';
import { ReportFilesRepository } from '../store/report-files.repository';
import {
  reportExpired,
  reportFailed,
  reportNotFound,
  reportNotReady,
} from '../store/report-errors';
import { ReportsRepository } from '../store/reports.repository';
import { RetryAfterEstimates } from '../admission/retry-after';
import { FairQueue, REDIS_WAIT_MS } from '../../fair-queue/fair-queue';

/** Younger reports may still be on their way into Redis: the sweep leaves them to their request. */
const SWEEP_GRACE = '5 seconds';

/** Why the PDF route has no PDF to give for this report, or undefined when it has one. */
function noPdf(report: Report): ApiError | undefined {
  switch (report.status) {
    case ReportStatus.Completed:
      return report.pdfEtag ? undefined : reportNotReady(report.id);
    case ReportStatus.Expired:
      return reportExpired();
    case ReportStatus.Failed:
      return reportFailed(report.id, report.errorCode);
    default:
      return reportNotReady(report.id);
  }
}

export type Download = { report: Report } & ({ notModified: true } | { pdf: Readable });

/** What a client asks of its reports once asked for: read (waiting for a change), list, delete, download. */
@Injectable()
export class ReportsService {
  private readonly logger = new Logger(ReportsService.name);
  /** Where the sweep stopped: the next pass goes on from there, and starts over at the end. */
  private sweptUpTo?: Position;

  constructor(
    private readonly reports: ReportsRepository,
    private readonly files: ReportFilesRepository,
    private readonly events: ReportEvents,
    private readonly estimates: RetryAfterEstimates,
    private readonly queue: FairQueue,
    @InjectDataSource() private readonly dataSource: DataSource,
    @InjectQueue(QueueName.ReportRender)
    private readonly renderQueue: Queue<JobData[QueueName.ReportRender]>,
    @Inject(renderConfig.KEY) private readonly render: ConfigType<typeof renderConfig>,
  ) {}

  /**
   * Queues the render. When Redis does not answer the report is still accepted: it is in Postgres,
   * and the sweep queues it once Redis is back.
   */
  async enqueue(reportId: string, turn: number): Promise<void> {
    const job = renderJob(reportId, this.render.attempts, turn);
    try {
      await withTimeout(addJob(this.renderQueue, job), REDIS_WAIT_MS, 'enqueue');
    } catch (error) {
      this.logger.warn({
        reportId,
        msg: `Report ${reportId}: not queued now (${String(error)}); the sweep will queue it`,
      });
    }
  }

  /** The client's own report; another client's id is answered exactly as an unknown one. */
  async findForClient(clientId: string, id: string): Promise<ReadReport> {
    const report = isUuid(id) ? await this.reports.findForClient(clientId, id) : undefined;
    if (!report) throw reportNotFound();
    return report;
  }

  /**
   * The report for its status route, with where it stands while unfinished (its place in the fair
   * order: 0 while it renders, null when the queue is unreachable; when it is likely done). With
   * `waitSeconds` (Prefer: wait), an unfinished report is held until it changes, `waitSeconds`
   * pass or `aborted` (the client left), then read again; the answer says how long it was willing
   * to wait (`waited`), or nothing when the client or the process already holds its most. The
   * wait is registered before the first read: a change landing after the read still wakes it.
   */
  async status(
    clientId: string,
    id: string,
    waitSeconds: number | undefined,
    aborted: AbortSignal,
  ): Promise<ReportStatusRead> {
    const release = waitSeconds === undefined ? undefined : this.events.hold(clientId);
    if (!release) return this.readStatus(clientId, id);
    const change = await this.events.subscribe(id, aborted);
    try {
      let read = await this.readStatus(clientId, id);
      if (!FINISHED_STATUSES.includes(read.report.status)) {
        await change.wait(waitSeconds! * 1000);
        read = await this.readStatus(clientId, id);
      }
      return { ...read, waited: waitSeconds };
    } finally {
      change.dispose();
      release();
    }
  }

  /** The report's place in the fair order: 0 while it renders, null when unknown or finished. */
  async place(report: Pick<Report, 'id' | 'status'>): Promise<number | null> {
    if (report.status === ReportStatus.InProgress) return 0;
    return report.status === ReportStatus.Pending ? this.queue.place(report.id) : null;
  }

  /** One poll: the report (one indexed read) and, at the same time, its place (one Redis rank). */
  private async readStatus(clientId: string, id: string): Promise<ReportStatusRead> {
    const [report, waitingPlace] = await Promise.all([
      this.findForClient(clientId, id),
      isUuid(id) ? this.queue.place(id) : null,
    ]);
    if (FINISHED_STATUSES.includes(report.status)) return { report };
    const place = report.status === ReportStatus.InProgress ? 0 : waitingPlace;
    return { report, place, estimate: await this.estimates.estimate(place ?? 0, report.progress) };
  }

  async list(clientId: string, query: ListReportsQuery): Promise<Page<Report>> {
    const rows = await this.reports.list(clientId, query);
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
   * finished one's PDF: a COMPLETED report becomes EXPIRED, as REPORT_TTL_HOURS would make it, and
   * keeps its callback history. A FAILED or EXPIRED report has no PDF: nothing changes. Two
   * statements, each seeing what is committed when it runs: a render finishing meanwhile leaves the
   * first nothing to cancel, and the second finds the report COMPLETED.
   */
  async remove(clientId: string, id: string): Promise<void> {
    const report = await this.findForClient(clientId, id);
    if (await this.reports.cancel(report.id)) {
      await this.queue.finished(clientId, report.id);
      await this.dropJob(report.id);
    } else await this.expire({ reportId: report.id });
    await this.events.publish(report.id); // a status request held on it answers 404 or EXPIRED
  }

  /**
   * Marks EXPIRED the COMPLETED report given, or every report completed more than `olderThanHours`
   * ago (the sweep): no download starts after. Their PDFs are deleted by the sweep after a grace
   * (ReportRetention), so that a download under way ends whole. Answers how many.
   */
  async expire(which: { reportId: string } | { olderThanHours: number }): Promise<number> {
    return this.dataSource.transaction(
      async (transaction) => (await this.reports.expire(transaction, which)).length,
    );
  }

  /**
   * The PDF, read a chunk at a time as the client takes it: serving a long report holds one chunk.
   * `ifNoneMatch` matching its ETag: not modified.
   */
  async download(clientId: string, id: string, ifNoneMatch?: string): Promise<Download> {
    const report = await this.findForClient(clientId, id);
    const missing = noPdf(report);
    if (missing) throw missing;
    if (ifNoneMatch?.split(',').some((tag) => tag.trim() === report.pdfEtag)) {
      return { report, notModified: true };
    }
    const first = await this.files.read(report.id, report.pdfAttempt!, 0);
    if (!first) {
      // Expired or deleted since it was read: answered as the report stands now (410, 404). Still
      // COMPLETED without its PDF is a state the service never leaves a report in: a 500.
      throw (
        noPdf(await this.findForClient(clientId, id)) ??
        new Error(`Report ${id} is COMPLETED and its PDF is not stored`)
      );
    }
    return { report, pdf: Readable.from(this.chunks(report, first), { objectMode: false }) };
  }

  /**
   * The sweep's part: queues again the next `batch` unfinished reports whose job Redis does not
   * hold (a restart empties it). A job that exists, in any state, is Bull's to finish (a dead
   * worker's job is "stalled"). Answers how many.
   */
  async requeueUnfinished(batch: number): Promise<number> {
    const rows = await this.reports.unfinished(this.sweptUpTo, SWEEP_GRACE, batch);
    const missing = await missingJobs(
      this.renderQueue,
      rows.map(({ id }) => id),
      2 * REDIS_WAIT_MS,
    );
    for (const { id, fairRound } of rows) if (missing.has(id)) await this.enqueue(id, fairRound);
    await this.queue.restore(rows);
    // Only once the batch is checked: a pass that failed checks it again.
    this.sweptUpTo = rows.length === batch ? rows[rows.length - 1] : undefined;
    return missing.size;
  }

  private async *chunks(report: Report, head: Buffer): AsyncGenerator<Buffer> {
    yield head;
    const size = report.pdfSize ?? 0;
    let sent = head.length;
    for (let seq = 1; sent < size; seq += 1) {
      const next = await this.files.read(report.id, report.pdfAttempt!, seq);
      // Expired or deleted mid-download: break the connection rather than end short of
      // Content-Length, which a client would wait on.
      if (!next) throw new Error(`PDF of report ${report.id} ends at ${sent} of ${size} bytes`);
      sent += next.length;
      yield next;
    }
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
}
