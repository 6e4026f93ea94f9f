import { MigrationInterface, QueryRunner } from 'typeorm';

/** Each index as it was, and as the keyset query that reads it now wants it. */
const INDEXES = [
  {
    name: 'reports_client_created_at_idx',
    before: 'reports (client_id, created_at DESC, id)',
    after: 'reports (client_id, created_at DESC, id DESC)',
  },
  {
    name: 'reports_status_idx',
    before: 'reports (client_id, status, created_at DESC, id)',
    after: 'reports (client_id, status, created_at DESC, id DESC)',
  },
  {
    name: 'reports_unfinished_idx',
    before: `reports (created_at) WHERE status IN ('PENDING', 'IN_PROGRESS')`,
    after: `reports (created_at, id) WHERE status IN ('PENDING', 'IN_PROGRESS')`,
  },
  {
    name: 'callback_events_due_idx',
    before: `callback_events (next_attempt_at) WHERE status = 'PENDING'`,
    after: `callback_events (next_attempt_at, id) WHERE status = 'PENDING'`,
  },
];

export class KeysetIndexes1764000500000 implements MigrationInterface {
  name = 'KeysetIndexes1764000500000';

  /**
   * The indexes in the order of the keysets that page through them: the reports list goes
   * newest first by (created_at, id), both descending, and the sweep oldest first by (created_at,
   * id) and (next_attempt_at, id). With id in the other direction, or missing, ties were sorted
   * after the read, and the row comparison could not bound the index scan.
   */
  public async up(queryRunner: QueryRunner): Promise<void> {
    for (const { name, after } of INDEXES) {
      await queryRunner.query(`DROP INDEX ${name}`);
      await queryRunner.query(`CREATE INDEX ${name} ON ${after}`);
    }
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    for (const { name, before } of INDEXES) {
      await queryRunner.query(`DROP INDEX ${name}`);
      await queryRunner.query(`CREATE INDEX ${name} ON ${before}`);
    }
  }
}
