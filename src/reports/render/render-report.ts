import { Inject, Injectable, Logger } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { ClientsRepository } from '../../clients/clients.repository';
import { maxRenderClaims } from '../../common/jobs';
import { renderConfig, reportsConfig } from '../../config/configuration';
import { FairQueue } from '../../fair-queue/fair-queue';
import { ReportEvents } from '../store/report-events';
import { ReportFiles, ReportNoLongerRendering } from '../store/report-files';
import { ReportOrdersReader } from './report-orders-reader';
import { ReportSettlement } from './report-settlement';
import { ReportErrorCode } from '../store/report-errors';
import { ClaimedReport } from '../store/report.entity';
import { ReportsRepository } from '../store/reports.repository';
import { cjkFonts } from '../../pdf/cjk-fonts';
import { PdfRenderer } from '../../pdf/pdf-renderer.service';
import { PdfError } from '../../pdf/pdf-error';
import { DocumentBuilder } from '../../pdf/template';
import { annotateSpan, inSpan } from '../../tracing/spans';

/** A failure that another try cannot fix. */
class PermanentFailure extends Error {
  constructor(
    readonly code: ReportErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** What a failed report tells its client, by code: never a library's message. */
const FAILURE_MESSAGES: Record<string, string> = {
  [ReportErrorCode.RenderTimeout]: 'The PDF took too long to render',
  [ReportErrorCode.RenderFailed]: 'The PDF could not be rendered',
};

/** One try of a render job, as Bull counts them (common/jobs.ts). */
export interface RenderTry {
  number: number;
  /** No try follows this one: a failure now ends the report FAILED. */
  last: boolean;
}

/** The render of one report: claim → read the orders → render → store → settle. */
@Injectable()
export class RenderReport {
  private readonly logger = new Logger(RenderReport.name);

  constructor(
    private readonly reports: ReportsRepository,
    private readonly clients: ClientsRepository,
    private readonly orders: ReportOrdersReader,
    private readonly renderer: PdfRenderer,
    private readonly files: ReportFiles,
    private readonly settlement: ReportSettlement,
    private readonly events: ReportEvents,
    private readonly queue: FairQueue,
    @Inject(renderConfig.KEY) private readonly render: ConfigType<typeof renderConfig>,
    @Inject(reportsConfig.KEY) private readonly config: ConfigType<typeof reportsConfig>,
  ) {}

  /** Throws to have Bull try again; any other end is settled here. */
  async run(reportId: string, tried: RenderTry): Promise<void> {
    const report = await this.reports.claim(reportId);
    if (!report) {
      this.logger.log({ reportId, msg: `Report ${reportId}: already finished or gone, skipped` });
      return;
    }
    annotateSpan({ 'client.id': report.clientId });
    await Promise.all([this.queue.started(reportId), this.events.publish(reportId)]);
    if (report.renderAttempts > maxRenderClaims(this.render.attempts)) {
      this.logger.warn({
        reportId,
        msg: `Report ${reportId}: claimed ${report.renderAttempts} times without finishing, giving up`,
      });
      await this.settlement.fail(
        report,
        ReportErrorCode.RenderFailed,
        FAILURE_MESSAGES[ReportErrorCode.RenderFailed],
      );
      return;
    }
    try {
      await this.print(report);
    } catch (error) {
      await this.failed(report, tried, error);
    }
  }

  private async print(report: ClaimedReport): Promise<void> {
    const started = Date.now();
    const [orders, clientName, fonts] = await inSpan('report.read_orders', {}, async (span) => {
      const read = await Promise.all([
        this.orders.open(report),
        this.clients.name(report.clientId),
        cjkFonts(),
      ]);
      span.setAttribute('report.orders', read[0].count);
      return read;
    });
    if (orders.count > this.config.maxOrders) {
      throw new PermanentFailure(
        ReportErrorCode.ReportTooLarge,
        `The period holds ${orders.count} orders, more than the ${this.config.maxOrders} a report may hold`,
      );
    }
    const builder = DocumentBuilder.forRows(
      {
        clientName: clientName ?? '',
        startDate: report.startDate,
        endDate: report.endDate,
        timeZone: report.timeZone,
      },
      orders.count,
      this.render,
      fonts,
    );
    const partCount = Math.max(1, Math.ceil(orders.count / builder.partRows));
    // This claim writes its own file: a stalled job taken again meanwhile writes another.
    const writer = this.files.writer(report.id, report.renderAttempts);
    const pdf = await this.renderer
      .render(orders.parts(builder), writer.sink, partCount)
      .then(async (joined) => {
        await writer.close(); // a store that fails fails the attempt, tried again like a render
        return joined;
      })
      .catch(async (error: unknown) => {
        await writer.discard();
        // However the renderer reports it (a failed part, a timeout that won the race), a
        // refused chunk means the report is gone or finished: nothing to retry.
        throw writer.refused() ? new ReportNoLongerRendering(report.id) : error;
      });
    const renderMs = Date.now() - started;
    const stored = await inSpan('report.store', { 'pdf.bytes': pdf.bytes }, () =>
      this.settlement.complete(report, {
        bytes: pdf.bytes,
        pages: pdf.pages,
        sha256: pdf.sha256,
        orderCount: builder.orderCount,
        renderMs,
      }),
    );
    if (!stored) {
      // Deleted meanwhile, or finished by another claim: that one's PDF, or none, stands.
      await writer.discard();
      this.logger.log({ reportId: report.id, msg: `Report ${report.id}: rendered, not stored` });
      return;
    }
    this.logger.log({
      reportId: report.id,
      msg:
        `Report ${report.id}: ${builder.orderCount} orders, ${pdf.pages} pages, ` +
        `${pdf.bytes} bytes in ${renderMs} ms`,
    });
  }

  /** Tried again by Bull (rethrown) unless it cannot help or this was the last try: then FAILED. */
  private async failed(report: ClaimedReport, tried: RenderTry, error: unknown): Promise<void> {
    if (error instanceof ReportNoLongerRendering) {
      this.logger.log({
        reportId: report.id,
        msg: `Report ${report.id}: deleted or finished meanwhile, stopped`,
      });
      return;
    }
    const permanent = error instanceof PermanentFailure;
    const code = permanent
      ? error.code
      : error instanceof PdfError && error.kind === 'timeout'
        ? ReportErrorCode.RenderTimeout
        : ReportErrorCode.RenderFailed;
    const givingUp = permanent || tried.last;
    this.logger.warn({
      reportId: report.id,
      errorCode: code,
      msg:
        `Report ${report.id}: attempt ${tried.number} failed with ${code} ` +
        `(${error instanceof Error ? error.message : String(error)})` +
        (givingUp ? ', giving up' : ', will retry'),
    });
    if (!givingUp) throw error;
    const message = permanent ? error.message : FAILURE_MESSAGES[code];
    await this.settlement.fail(
      report,
      code,
      message ?? FAILURE_MESSAGES[ReportErrorCode.RenderFailed],
    );
  }
}
