import { Inject, Injectable } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { CallbackEventsRepository } from '../../callbacks/callback-events.repository';
import { reportsConfig } from '../../config/configuration';
import { ReportFiles } from './report-files';
import { ReportsRepository } from './reports.repository';

/**
 * What is kept, and for how long, after a report finished: an expired PDF is deleted once
 * its grace is over (PDF_PURGE_GRACE), and a finished report's row, its callback event and attempts
 * REPORT_RETENTION_DAYS after it finished. Run by the sweep, a batch a pass, each batch in one
 * transaction.
 */
@Injectable()
export class ReportRetention {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly reports: ReportsRepository,
    private readonly files: ReportFiles,
    private readonly callbackEvents: CallbackEventsRepository,
    @Inject(reportsConfig.KEY) private readonly config: ConfigType<typeof reportsConfig>,
  ) {}

  /**
   * How old a COMPLETED report's PDF may grow before it expires: REPORT_TTL_HOURS, or the retention
   * when that is shorter (a report's row is deleted only once its PDF is gone).
   */
  get pdfTtlHours(): number {
    return Math.min(this.config.ttlHours, this.config.retentionDays * 24);
  }

  /**
   * Deletes up to `batch` expired PDFs whose grace is over. Answers how many; one whose delete
   * failed (the bucket away) stays due, for the next sweep.
   */
  purgeExpiredPdfs(batch: number): Promise<number> {
    return this.dataSource.transaction(async (transaction) => {
      const due = await this.reports.duePurges(transaction, batch);
      const gone = await this.files.purge(transaction, due);
      await this.reports.purged(transaction, gone);
      return gone.length;
    });
  }

  /** Deletes up to `batch` reports finished more than REPORT_RETENTION_DAYS ago. Answers how many. */
  deleteFinished(batch: number): Promise<number> {
    return this.dataSource.transaction(async (transaction) => {
      const old = await this.reports.finishedBefore(transaction, this.config.retentionDays, batch);
      await this.callbackEvents.deleteOfReports(transaction, old);
      return this.reports.deleteRows(transaction, old);
    });
  }
}
