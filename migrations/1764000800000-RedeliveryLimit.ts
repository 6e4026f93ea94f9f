import { MigrationInterface, QueryRunner } from 'typeorm';

export class RedeliveryLimit1764000800000 implements MigrationInterface {
  name = 'RedeliveryLimit1764000800000';

  /** When the client last asked for the event to be sent again: at most once a minute. */
  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE callback_events ADD COLUMN redelivered_at timestamptz`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE callback_events DROP COLUMN redelivered_at`);
  }
}
