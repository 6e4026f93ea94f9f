import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { PdfSink } from '../../pdf/pdf-join';
import { ReportsRepository } from './reports.repository';

/** The report was deleted or finished by another claim while this one rendered it: stop. */
export class ReportNoLongerRendering extends Error {
  constructor(reportId: string) {
    super(`Report ${reportId} was deleted or finished by another claim`);
  }
}

/**
 * The PDFs, and every statement on `report_file_chunks`: chunks of about 1 MiB, each claim of a
 * report writing its own (`attempt`). The report names the claim whose chunks are its PDF.
 */
@Injectable()
export class ReportFiles {
  private readonly logger = new Logger(ReportFiles.name);

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly reports: ReportsRepository,
  ) {}

  /**
   * One claim's PDF, stored as it is joined. A chunk is written only while the report is being
   * rendered, and refused once it is deleted or has its final state: the render stops there
   * (`ReportNoLongerRendering`), rather than print a PDF nobody will store. `discard` drops the
   * claim's chunks, now and again once a chunk still being written has landed.
   */
  writer(reportId: string, attempt: number) {
    let seq = 0;
    let refused = false;
    let lastWrite: Promise<unknown> = Promise.resolve();
    const sink: PdfSink = async (data) => {
      const written = this.writeWhileRendering(reportId, attempt, seq++, data);
      lastWrite = written.catch(() => undefined);
      if (!(await written)) refused = true;
      if (refused) throw new ReportNoLongerRendering(reportId);
    };
    return {
      sink,
      /** Whether a chunk was refused: the report is finished or gone, there is nothing to retry. */
      refused: () => refused,
      discard: async () => {
        await this.dropAttempt(reportId, attempt);
        void lastWrite.then(() => this.dropAttempt(reportId, attempt));
      },
    };
  }

  async read(reportId: string, attempt: number, seq: number): Promise<Buffer | undefined> {
    const [row] = await this.dataSource.query<{ data: Buffer }[]>(
      `SELECT data FROM report_file_chunks WHERE report_id = $1 AND attempt = $2 AND seq = $3`,
      [reportId, attempt, seq],
    );
    return row?.data;
  }

  /** Drops every chunk of the reports but those of claim `keep` (null: keeps none). */
  async dropAllBut(
    transaction: EntityManager,
    reportIds: string[],
    keep: number | null,
  ): Promise<void> {
    if (reportIds.length === 0) return;
    await transaction.query(
      `DELETE FROM report_file_chunks
        WHERE report_id = ANY($1::uuid[]) AND attempt IS DISTINCT FROM $2::int`,
      [reportIds, keep],
    );
  }

  /** False, having written nothing, when the report is no longer IN_PROGRESS. */
  private writeWhileRendering(reportId: string, attempt: number, seq: number, data: Buffer) {
    return this.dataSource.transaction(async (transaction) => {
      if (!(await this.reports.holdWhileRendering(transaction, reportId))) return false;
      await transaction.query(
        `INSERT INTO report_file_chunks (report_id, attempt, seq, data) VALUES ($1, $2, $3, $4)`,
        [reportId, attempt, seq, data],
      );
      return true;
    });
  }

  /** Drops the chunks one claim wrote, when they will not be the PDF. Never fails the caller. */
  private async dropAttempt(reportId: string, attempt: number): Promise<void> {
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
