import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';

/**
 * Every statement on `report_file_chunks`: the PDFs, in chunks of about 1 MiB, each claim of a
 * report writing its own (`attempt`). The report names the claim whose chunks are its PDF.
 */
@Injectable()
export class ReportFilesRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async write(
    transaction: EntityManager,
    chunk: { reportId: string; attempt: number; seq: number; data: Buffer },
  ): Promise<void> {
    await transaction.query(
      `INSERT INTO report_file_chunks (report_id, attempt, seq, data) VALUES ($1, $2, $3, $4)`,
      [chunk.reportId, chunk.attempt, chunk.seq, chunk.data],
    );
  }

  async read(reportId: string, attempt: number, seq: number): Promise<Buffer | undefined> {
    const [row] = await this.dataSource.query<{ data: Buffer }[]>(
      `SELECT data FROM report_file_chunks WHERE report_id = $1 AND attempt = $2 AND seq = $3`,
      [reportId, attempt, seq],
    );
    return row?.data;
  }

  /** Drops what one claim wrote. */
  async dropAttempt(reportId: string, attempt: number): Promise<void> {
    await this.dataSource.query(
      `DELETE FROM report_file_chunks WHERE report_id = $1 AND attempt = $2`,
      [reportId, attempt],
    );
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
}
