import { MigrationInterface, QueryRunner } from 'typeorm';

export class ReportRetention1764001300000 implements MigrationInterface {
  name = 'ReportRetention1764001300000';

  /**
   * An expired PDF's chunks are deleted a grace after it expired (`pdf_purge_at`), so that a
   * download in progress ends whole; and finished reports are deleted REPORT_RETENTION_DAYS after
   * they finished, found by the second index.
   */
  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE reports ADD COLUMN pdf_purge_at timestamptz`);
    await queryRunner.query(
      `CREATE INDEX reports_pdf_purge_at_idx ON reports (pdf_purge_at) WHERE pdf_purge_at IS NOT NULL`,
    );
    await queryRunner.query(
      `CREATE INDEX reports_retention_idx ON reports (completed_at)
        WHERE status IN ('FAILED', 'EXPIRED')`,
    );
  }

  /** The chunks still waiting for their grace go now: the old code deletes them as it expires. */
  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      DELETE FROM report_file_chunks c USING reports r
       WHERE c.report_id = r.id AND r.pdf_purge_at IS NOT NULL`);
    await queryRunner.query(`DROP INDEX reports_retention_idx`);
    await queryRunner.query(`DROP INDEX reports_pdf_purge_at_idx`);
    await queryRunner.query(`ALTER TABLE reports DROP COLUMN pdf_purge_at`);
  }
}
