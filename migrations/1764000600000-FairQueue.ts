import { MigrationInterface, QueryRunner } from 'typeorm';

export class FairQueue1764000600000 implements MigrationInterface {
  name = 'FairQueue1764000600000';

  /**
   * A report's turn in the render queue (start-time fair queuing, every report costing one turn):
   * its client's previous unfinished report's turn + 1, and never before the turn being served
   * now. Reports render in turn order, so a client's n-th unfinished report waits behind every
   * other client's earlier ones. It is the report's Bull priority, kept here so that the sweep
   * queues a lost job again in its turn.
   */
  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE reports ADD COLUMN fair_round integer NOT NULL DEFAULT 1`);
    // Reports waiting today: each client's in the order they came.
    await queryRunner.query(`
      UPDATE reports r SET fair_round = ranked.n
        FROM (SELECT id, row_number() OVER (PARTITION BY client_id ORDER BY created_at, id) AS n
                FROM reports WHERE status IN ('PENDING', 'IN_PROGRESS')) ranked
       WHERE r.id = ranked.id`);
    // The queue in turn order: a report's position, the backlog's size, the turn being served.
    await queryRunner.query(
      `CREATE INDEX reports_pending_turn_idx ON reports (fair_round, created_at, id)
        WHERE status = 'PENDING'`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX reports_pending_turn_idx`);
    await queryRunner.query(`ALTER TABLE reports DROP COLUMN fair_round`);
  }
}
