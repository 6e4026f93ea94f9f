import { Inject, Injectable } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { CallbacksService } from '../../callbacks/callbacks.service';
import { appConfig } from '../../config/configuration';
import { MetricsService } from '../../metrics/metrics.service';
import { callbackBody } from '../api/dto/report.response';
import { ClaimedReport, FinalState, ReportStatus } from '../store/report.entity';
import { FairQueue } from '../../fair-queue/fair-queue';
import { ReportEvents } from '../store/report-events';
import { ReportFiles } from '../store/report-files';
import { ReportsRepository } from '../store/reports.repository';

/**
 * How a render ends. In one transaction: the report's final state, the files that are not its PDF
 * dropped (a FAILED report keeps none), and its callback event when it has a callback_url, so that a
 * report never ends without its callback being due. Then every process hears of the change, and the
 * callback's first attempt is queued.
 */
@Injectable()
export class ReportSettlement {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly reports: ReportsRepository,
    private readonly files: ReportFiles,
    private readonly callbacks: CallbacksService,
    private readonly events: ReportEvents,
    private readonly queue: FairQueue,
    private readonly metrics: MetricsService,
    @Inject(appConfig.KEY) private readonly app: ConfigType<typeof appConfig>,
  ) {}

  /** False, having written nothing, when the report was deleted or another claim finished it. */
  async complete(
    report: ClaimedReport,
    pdf: { bytes: number; pages: number; sha256: string; orderCount: number; renderMs: number },
  ): Promise<boolean> {
    const settled = await this.settle(report, {
      status: ReportStatus.Completed,
      orderCount: pdf.orderCount,
      pdfSize: pdf.bytes,
      pdfPages: pdf.pages,
      pdfEtag: `"${pdf.sha256}"`,
      pdfAttempt: report.renderAttempts,
      renderMs: pdf.renderMs,
    });
    if (settled) {
      this.metrics.renders.inc({ outcome: 'completed' });
      this.metrics.renderDuration.observe(pdf.renderMs / 1000);
      this.metrics.renderPdfBytes.observe(pdf.bytes);
    }
    return settled;
  }

  /** Ends the report FAILED, and counts it unless it was already finished or deleted. */
  async fail(report: ClaimedReport, errorCode: string, errorMessage: string): Promise<boolean> {
    const settled = await this.settle(report, {
      status: ReportStatus.Failed,
      errorCode,
      errorMessage,
    });
    if (settled) this.metrics.renders.inc({ outcome: 'failed' });
    return settled;
  }

  private async settle(report: ClaimedReport, state: FinalState): Promise<boolean> {
    const outcome = await this.dataSource.transaction(async (transaction) => {
      if (!(await this.reports.settle(transaction, report.id, state))) return { settled: false };
      const pdfAttempt = state.status === ReportStatus.Completed ? state.pdfAttempt : null;
      await this.files.keepOnly(transaction, report.id, pdfAttempt);
      const eventId = report.callbackUrl
        ? await this.callbacks.schedule(transaction, {
            clientId: report.clientId,
            reportId: report.id,
            url: report.callbackUrl,
            payload: callbackBody(report.id, state, this.app.publicBaseUrl),
          })
        : undefined;
      return { settled: true, eventId };
    });
    if (!outcome.settled) return false;
    await Promise.all([
      this.queue.finished(report.clientId, report.id),
      this.events.publish(report.id),
    ]);
    if (outcome.eventId) await this.callbacks.send(outcome.eventId);
    return true;
  }
}
