import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { Readable } from 'node:stream';
import { DataSource, EntityManager } from 'typeorm';
import { Bucket } from '../../storage/bucket';
import { PostgresReportFiles } from './postgres-report-files';
import { ReportFiles, ReportFileWriter, ReportNoLongerRendering, StoredPdf } from './report-files';
import { ReportsRepository } from './reports.repository';

/** Each report's files under `<id>/`, one a claim: Postgres holds none of their bytes. */
const folderOf = (reportId: string) => `${reportId}/`;
/** Reports whose files are deleted at once by a sweep. */
const PURGES_AT_ONCE = 8;
const keyOf = (reportId: string, attempt: number) => `${folderOf(reportId)}${attempt}.pdf`;

/**
 * The PDFs in a bucket (REPORT_STORAGE=s3://…): each claim uploads its own object as the PDF is
 * joined (a multipart upload past 5 MiB, in bounded memory). An upload that fails fails the
 * attempt, which is tried again like a failed render, and is aborted. PDFs written to Postgres
 * before REPORT_STORAGE named the bucket are still served from there, and purged with the others.
 */
@Injectable()
export class BucketReportFiles extends ReportFiles {
  private readonly logger = new Logger(BucketReportFiles.name);

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly reports: ReportsRepository,
    private readonly bucket: Bucket,
    private readonly before: PostgresReportFiles,
  ) {
    super();
  }

  writer(reportId: string, attempt: number): ReportFileWriter {
    const upload = this.bucket.upload(keyOf(reportId, attempt), 'application/pdf');
    let refused = false;
    let closed = false;
    return {
      sink: async (data) => {
        if (!(await this.stillRendering(reportId))) refused = true;
        if (refused) throw new ReportNoLongerRendering(reportId);
        await upload.write(data);
      },
      close: async () => {
        await upload.complete();
        closed = true;
      },
      refused: () => refused,
      discard: async () => {
        if (!closed) return upload.abort();
        await this.bucket
          .delete(keyOf(reportId, attempt))
          .catch((error: unknown) =>
            this.warn(reportId, `object of claim ${attempt} left (${String(error)})`),
          );
      },
    };
  }

  async read(pdf: StoredPdf): Promise<Readable | undefined> {
    return (await this.bucket.read(keyOf(pdf.id, pdf.pdfAttempt!))) ?? this.before.read(pdf);
  }

  link(
    pdf: StoredPdf,
    seconds: number,
    answer: { contentType: string; contentDisposition: string },
  ): Promise<string> {
    return this.bucket.presign(keyOf(pdf.id, pdf.pdfAttempt!), seconds, answer);
  }

  /**
   * The other claims' objects (a claim that lost, one a crash left after its upload) are deleted
   * without holding the settlement: one left now is deleted with the report's PDF (`purge`).
   */
  keepOnly(_transaction: unknown, reportId: string, keep: number | null): Promise<void> {
    // The first claim won: no other wrote anything (a later one drops its own when it loses).
    if (keep === 1) return Promise.resolve();
    const except = keep === null ? undefined : keyOf(reportId, keep);
    void this.bucket
      .deleteAll(folderOf(reportId), except)
      .catch((error: unknown) =>
        this.warn(reportId, `other claims' objects left (${String(error)})`),
      );
    return Promise.resolve();
  }

  async purge(transaction: EntityManager, reportIds: string[]): Promise<string[]> {
    await this.before.purge(transaction, reportIds);
    const gone: string[] = [];
    for (let i = 0; i < reportIds.length; i += PURGES_AT_ONCE) {
      await Promise.all(
        reportIds.slice(i, i + PURGES_AT_ONCE).map((id) =>
          this.bucket.deleteAll(folderOf(id)).then(
            () => gone.push(id),
            (error: unknown) =>
              this.warn(id, `PDF not deleted, the next sweep tries again (${String(error)})`),
          ),
        ),
      );
    }
    return gone;
  }

  /** Whether the report is still IN_PROGRESS: the upload goes on only then. */
  private stillRendering(reportId: string): Promise<boolean> {
    return this.dataSource.transaction((transaction) =>
      this.reports.holdWhileRendering(transaction, reportId),
    );
  }

  private warn(reportId: string, what: string): void {
    this.logger.warn({ reportId, msg: `Report ${reportId}: ${what}` });
  }
}
