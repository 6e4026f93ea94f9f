import { MigrationInterface, QueryRunner } from 'typeorm';

export class ReportFileChunks1764000400000 implements MigrationInterface {
  name = 'ReportFileChunks1764000400000';

  /**
   * A PDF is stored as it is joined, in chunks of about 1 MiB, so that neither the worker that writes
   * it nor the API process that serves it ever holds it whole. Each claim of a report (its
   * render_attempts at the time) writes its own chunks; `pdf_attempt` names the ones that are the PDF.
   */
  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE report_files RENAME TO report_file_chunks`);
    await queryRunner.query(`ALTER TABLE report_file_chunks RENAME COLUMN pdf TO data`);
    await queryRunner.query(`
      ALTER TABLE report_file_chunks
        ADD COLUMN attempt integer NOT NULL DEFAULT 0,
        ADD COLUMN seq integer NOT NULL DEFAULT 0,
        DROP CONSTRAINT report_files_pkey,
        ADD PRIMARY KEY (report_id, attempt, seq)`);
    await queryRunner.query(`ALTER TABLE report_file_chunks ALTER COLUMN attempt DROP DEFAULT`);
    await queryRunner.query(`ALTER TABLE report_file_chunks ALTER COLUMN seq DROP DEFAULT`);
    await queryRunner.query(`ALTER TABLE reports ADD COLUMN pdf_attempt integer`);
    await queryRunner.query(`UPDATE reports SET pdf_attempt = 0 WHERE pdf_etag IS NOT NULL`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    // Only a PDF of one chunk fits the old table: a report with a longer one says EXPIRED (a
    // client asks for it again), rather than COMPLETED without its file.
    const longer = `EXISTS (SELECT 1 FROM report_file_chunks o
                     WHERE o.report_id = r.id AND o.attempt = r.pdf_attempt AND o.seq > 0)`;
    await queryRunner.query(
      `UPDATE reports r SET status = 'EXPIRED', updated_at = now()
        WHERE status = 'COMPLETED' AND ${longer}`,
    );
    await queryRunner.query(`
      DELETE FROM report_file_chunks c USING reports r
       WHERE c.report_id = r.id
         AND (c.attempt IS DISTINCT FROM r.pdf_attempt OR r.status <> 'COMPLETED' OR ${longer})`);
    await queryRunner.query(`ALTER TABLE reports DROP COLUMN pdf_attempt`);
    await queryRunner.query(`
      ALTER TABLE report_file_chunks
        DROP CONSTRAINT report_file_chunks_pkey,
        DROP COLUMN attempt,
        DROP COLUMN seq,
        ADD CONSTRAINT report_files_pkey PRIMARY KEY (report_id)`);
    await queryRunner.query(`ALTER TABLE report_file_chunks RENAME COLUMN data TO pdf`);
    await queryRunner.query(`ALTER TABLE report_file_chunks RENAME TO report_files`);
  }
}
