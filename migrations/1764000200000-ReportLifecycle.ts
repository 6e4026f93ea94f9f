import { MigrationInterface, QueryRunner } from 'typeorm';

export class ReportLifecycle1764000200000 implements MigrationInterface {
  name = 'ReportLifecycle1764000200000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    // Idempotency-Key: a unique constraint, so that concurrent requests with one key make one report.
    await queryRunner.query(`
      ALTER TABLE reports
        ADD COLUMN idempotency_key text,
        ADD COLUMN request_hash char(64)`);
    await queryRunner.query(`
      CREATE UNIQUE INDEX reports_idempotency_key_unique
        ON reports (client_id, idempotency_key) WHERE idempotency_key IS NOT NULL`);
    // The sweep: reports not finished (to re-enqueue) and finished ones past their TTL (to expire).
    await queryRunner.query(
      `CREATE INDEX reports_unfinished_idx ON reports (created_at) WHERE status IN ('PENDING', 'IN_PROGRESS')`,
    );
    await queryRunner.query(
      `CREATE INDEX reports_status_idx ON reports (client_id, status, created_at DESC, id)`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX reports_status_idx`);
    await queryRunner.query(`DROP INDEX reports_unfinished_idx`);
    await queryRunner.query(`DROP INDEX reports_idempotency_key_unique`);
    await queryRunner.query(
      `ALTER TABLE reports DROP COLUMN idempotency_key, DROP COLUMN request_hash`,
    );
  }
}
