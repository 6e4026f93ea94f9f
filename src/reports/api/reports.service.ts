import { Inject, Injectable } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { ApiError } from '../../common/api-error';
import { encodeCursor, isUuid, Page } from '../../common/pagination';
import { reportsConfig } from '../../config/configuration';
import { FairQueue } from '../../fair-queue/fair-queue';
import { RenderQueue } from '../admission/render-queue';
import { RetryAfterEstimates } from '../admission/retry-after';
import { ReportFiles } from '../store/report-files';
import { ReportEvents } from '../store/report-events';
import {
  reportExpired,
  reportFailed,
  reportNotFound,
  reportNotReady,
} from '../store/report-errors';
import {
  FINISHED_STATUSES,
  ReadReport,
  Report,
  ReportStatus,
  ReportStatusRead,
} from '../store/report.entity';
import { ReportsRepository } from '../store/reports.repository';
import { ListReportsQuery } from './dto/list-reports.query';
import { Download, pdfDisposition } from './dto/report.response';

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

/** How long a presigned URL of a PDF (REPORT_DOWNLOAD=redirect) is valid. */
export const PDF_LINK_SECONDS = 300;

/** What a client asks of its reports once asked for: read (waiting for a change), list, delete, download. */
@Injectable()
export class ReportsService {
  constructor(
    private readonly reports: ReportsRepository,
    private readonly files: ReportFiles,
    private readonly events: ReportEvents,
    private readonly estimates: RetryAfterEstimates,
    private readonly queue: FairQueue,
    private readonly renderQueue: RenderQueue,
    @Inject(reportsConfig.KEY) private readonly config: ConfigType<typeof reportsConfig>,
  ) {}

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
   * to wait (`waited`), or nothing when the client or the process already holds its most.
   */
  async status(
    clientId: string,
    id: string,
    waitSeconds: number | undefined,
    aborted: AbortSignal,
  ): Promise<ReportStatusRead> {
    const held =
      waitSeconds === undefined
        ? undefined
        : await this.held(clientId, id, waitSeconds, aborted, 'changed');
    return held ?? this.readStatus(clientId, id);
  }

  /**
   * A report just asked for with Prefer: wait, held until it finishes (not merely starts),
   * `waitSeconds` pass or `aborted`: read as the status route reads it, with `waited`. Undefined
   * when the client or the process already holds its most (LONG_POLL_MAX_*): the 202 at once.
   */
  finished(
    clientId: string,
    id: string,
    waitSeconds: number,
    aborted: AbortSignal,
  ): Promise<ReportStatusRead | undefined> {
    return this.held(clientId, id, waitSeconds, aborted, 'finished');
  }

  /**
   * Holds one request on the report, within the long-poll caps, until it is finished or, `until`
   * 'changed', has changed once. Each wait is registered before the read it follows: a change
   * landing between the read and the wait (a quick render finishing right after admission) still
   * ends it at once. A wake that finds the report unfinished ('finished': IN_PROGRESS now) waits
   * again for the time left; the deadline, the client leaving and the service stopping end it.
   */
  private async held(
    clientId: string,
    id: string,
    waitSeconds: number,
    aborted: AbortSignal,
    until: 'changed' | 'finished',
  ): Promise<ReportStatusRead | undefined> {
    const release = this.events.hold(clientId);
    if (!release) return undefined;
    const deadline = Date.now() + waitSeconds * 1000;
    try {
      for (let woken = false; ; woken = true) {
        const change = await this.events.subscribe(id, aborted);
        try {
          const read = await this.readStatus(clientId, id);
          const left = deadline - Date.now();
          if (
            FINISHED_STATUSES.includes(read.report.status) ||
            (woken && until === 'changed') ||
            left <= 0 ||
            aborted.aborted ||
            this.events.stopped
          ) {
            return { ...read, waited: waitSeconds };
          }
          await change.wait(left);
        } finally {
          change.dispose();
        }
      }
    } finally {
      release();
    }
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
      await this.renderQueue.drop(report.id);
    } else await this.reports.expire({ reportId: report.id });
    await this.events.publish(report.id); // a status request held on it answers 404 or EXPIRED
  }

  /**
   * The PDF, read as the client takes it (REPORT_DOWNLOAD=stream), or a presigned URL of its
   * object (redirect). `ifNoneMatch` matching its ETag: not modified.
   */
  async download(clientId: string, id: string, ifNoneMatch?: string): Promise<Download> {
    const report = await this.findForClient(clientId, id);
    const missing = noPdf(report);
    if (missing) throw missing;
    if (ifNoneMatch?.split(',').some((tag) => tag.trim() === report.pdfEtag)) {
      return { report, notModified: true };
    }
    if (this.config.download === 'redirect') {
      const location = await this.files.link(report, PDF_LINK_SECONDS, {
        contentType: 'application/pdf',
        contentDisposition: pdfDisposition(report),
      });
      return { report, location };
    }
    const pdf = await this.files.read(report);
    if (!pdf) {
      // Expired or deleted since it was read: answered as the report stands now (410, 404). Still
      // COMPLETED without its PDF is a state the service never leaves a report in: a 500.
      throw (
        noPdf(await this.findForClient(clientId, id)) ??
        new Error(`Report ${id} is COMPLETED and its PDF is not stored`)
      );
    }
    return { report, pdf };
  }
}
