import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { Readable } from 'node:stream';
import { DataSource, EntityManager } from 'typeorm';
import { PdfSink } from '../../pdf/pdf-join';
import { ReportFiles, ReportFileWriter, ReportNoLongerRendering, StoredPdf } from './report-files';
import { ReportsRepository } from './reports.repository';

/**
 * The PDFs in Postgres (REPORT_STORAGE=postgres), and every statement on `report_file_chunks`:
 * chunks of about 1 MiB, each claim of a report writing its own (`attempt`).
 */
@Injectable()
export class PostgresReportFiles extends ReportFiles {
  private readonly logger = new Logger(PostgresReportFiles.name);

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly reports: ReportsRepository,
  ) {
    super();
  }

  /**
   * A chunk is written only while the report is being rendered (ReportFiles.writer). `discard`
   * drops the claim's chunks, now and again once a chunk still being written has landed.
   */
  writer(reportId: string, attempt: number): ReportFileWriter {
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
      close: async () => undefined,
      refused: () => refused,
      discard: async () => {
        await this.dropAttempt(reportId, attempt);
        void lastWrite.then(() => this.dropAttempt(reportId, attempt));
      },
    };
  }

  /** Read a chunk at a time as the client takes it: serving a long report holds one chunk. */
  async read(pdf: StoredPdf): Promise<Readable | undefined> {
    const first = await this.chunk(pdf, 0);
    return first && Readable.from(this.chunks(pdf, first), { objectMode: false });
  }

  link(): Promise<string> {
    return Promise.reject(new Error('PDFs kept in Postgres have no URL of their own'));
  }

  async keepOnly(transaction: EntityManager, reportId: string, keep: number | null) {
    await transaction.query(
      `DELETE FROM report_file_chunks WHERE report_id = $1 AND attempt IS DISTINCT FROM $2::int`,
      [reportId, keep],
    );
  }

  async purge(transaction: EntityManager, reportIds: string[]): Promise<string[]> {
    if (reportIds.length === 0) return [];
    await transaction.query(`DELETE FROM report_file_chunks WHERE report_id = ANY($1::uuid[])`, [
      reportIds,
    ]);
    return reportIds;
  }

  private async chunk(pdf: StoredPdf, seq: number): Promise<Buffer | undefined> {
    const [row] = await this.dataSource.query<{ data: Buffer }[]>(
      `SELECT data FROM report_file_chunks WHERE report_id = $1 AND attempt = $2 AND seq = $3`,
      [pdf.id, pdf.pdfAttempt, seq],
    );
    return row?.data;
  }

  private async *chunks(pdf: StoredPdf, head: Buffer): AsyncGenerator<Buffer> {
    yield head;
    const size = pdf.pdfSize ?? 0;
    let sent = head.length;
    for (let seq = 1; sent < size; seq += 1) {
      const next = await this.chunk(pdf, seq);
      // Expired or deleted mid-download: break the connection rather than end short of
      // Content-Length, which a client would wait on.
      if (!next) throw new Error(`PDF of report ${pdf.id} ends at ${sent} of ${size} bytes`);
      sent += next.length;
      yield next;
    }
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
