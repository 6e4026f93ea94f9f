import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { ReportFilesRepository } from './report-files.repository';
import { ReportsRepository } from './reports.repository';
import { PdfSink } from '../../pdf/pdf-join';

/** The report was deleted or finished by another claim while this one rendered it: stop. */
export class ReportNoLongerRendering extends Error {
  constructor(reportId: string) {
    super(`Report ${reportId} was deleted or finished by another claim`);
  }
}

/**
 * One claim's PDF, stored as it is joined. A chunk is written only while the report is being
 * rendered, and refused once it is deleted or has its final state: the render stops there, rather
 * than print a PDF nobody will store.
 */
export class ReportFileWriter {
  private seq = 0;
  private refusedOnce = false;
  /** The chunk being written, if any: a discard waits for it to land. */
  private lastWrite: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly store: ReportFileStore,
    readonly reportId: string,
    readonly attempt: number,
  ) {}

  /** Whether a chunk was refused: the report is finished or gone, there is nothing to retry. */
  get refused(): boolean {
    return this.refusedOnce;
  }

  readonly sink: PdfSink = async (data) => {
    const written = this.store.writeWhileRendering(this.reportId, this.attempt, this.seq++, data);
    this.lastWrite = written.catch(() => undefined);
    if (!(await written)) this.refusedOnce = true;
    if (this.refusedOnce) throw new ReportNoLongerRendering(this.reportId);
  };

  /** Drops this claim's chunks, now and again once a chunk still being written has landed. */
  async discard(): Promise<void> {
    await this.store.drop(this.reportId, this.attempt);
    void this.lastWrite.then(() => this.store.drop(this.reportId, this.attempt));
  }
}

/** Where renders store their PDFs (report_file_chunks), guarded by the report's state. */
@Injectable()
export class ReportFileStore {
  private readonly logger = new Logger(ReportFileStore.name);

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly reports: ReportsRepository,
    private readonly files: ReportFilesRepository,
  ) {}

  writer(reportId: string, attempt: number): ReportFileWriter {
    return new ReportFileWriter(this, reportId, attempt);
  }

  /** False, having written nothing, when the report is no longer IN_PROGRESS. */
  writeWhileRendering(reportId: string, attempt: number, seq: number, data: Buffer) {
    return this.dataSource.transaction(async (transaction) => {
      if (!(await this.reports.holdWhileRendering(transaction, reportId))) return false;
      await this.files.write(transaction, { reportId, attempt, seq, data });
      return true;
    });
  }

  /** Drops the chunks one claim wrote, when they will not be the PDF. Never fails the caller. */
  async drop(reportId: string, attempt: number): Promise<void> {
    await this.files.dropAttempt(reportId, attempt).catch((error: unknown) => {
      this.logger.warn({ reportId, msg: `Report ${reportId}: chunks left: ${String(error)}` });
    });
  }
}
