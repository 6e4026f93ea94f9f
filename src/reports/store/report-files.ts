import type { Readable } from 'node:stream';
import type { EntityManager } from 'typeorm';
import type { PdfSink } from '../../pdf/pdf-join';
import type { Report } from './report.entity';

/** The report was deleted or finished by another claim while this one rendered it: stop. */
export class ReportNoLongerRendering extends Error {
  constructor(reportId: string) {
    super(`Report ${reportId} was deleted or finished by another claim`);
  }
}

/** One claim's PDF being stored, as the PDF engine joins it. */
export interface ReportFileWriter {
  /** Takes the PDF a chunk at a time; throws ReportNoLongerRendering once the report is finished or gone. */
  sink: PdfSink;
  /** After the last chunk: the PDF is whole where it is kept. A failure fails the attempt. */
  close(): Promise<void>;
  /** Whether a chunk was refused: the report is finished or gone, there is nothing to retry. */
  refused(): boolean;
  /** Drops what this claim stored, when it will not be the PDF. Never fails the caller. */
  discard(): Promise<void>;
}

/** Which stored PDF: the report's, written by its claim `pdfAttempt`. */
export type StoredPdf = Pick<Report, 'id' | 'pdfAttempt' | 'pdfSize'>;

/**
 * Where the PDFs are kept (REPORT_STORAGE), each claim of a report writing its own: in Postgres
 * (PostgresReportFiles, the default) or in a bucket (BucketReportFiles). The report names the
 * claim whose file is its PDF (`pdf_attempt`).
 */
export abstract class ReportFiles {
  /**
   * One claim's PDF, stored as it is joined. It is written only while the report is being
   * rendered: once it is deleted or has its final state, the render stops there
   * (`ReportNoLongerRendering`), rather than print a PDF nobody will store.
   */
  abstract writer(reportId: string, attempt: number): ReportFileWriter;

  /** The PDF's bytes as they are read, or undefined when it is not stored (expired, deleted). */
  abstract read(pdf: StoredPdf): Promise<Readable | undefined>;

  /**
   * A URL that serves the PDF without the API key for `seconds`, with the headers given
   * (REPORT_DOWNLOAD=redirect, object storage only).
   */
  abstract link(
    pdf: StoredPdf,
    seconds: number,
    answer: { contentType: string; contentDisposition: string },
  ): Promise<string>;

  /** When a render ends, in its transaction: every claim's file but `keep`'s (null: none) dropped. */
  abstract keepOnly(
    transaction: EntityManager,
    reportId: string,
    keep: number | null,
  ): Promise<void>;

  /**
   * Deletes the PDFs of the reports, in the caller's transaction; answers those whose PDF is gone
   * (a delete that failed is tried again by the next sweep).
   */
  abstract purge(transaction: EntityManager, reportIds: string[]): Promise<string[]>;
}
