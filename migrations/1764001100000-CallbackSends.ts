import { MigrationInterface, QueryRunner } from 'typeorm';

export class CallbackSends1764001100000 implements MigrationInterface {
  name = 'CallbackSends1764001100000';

  /**
   * When the event's latest attempt was counted and its POST started, until its result is recorded:
   * every send is counted before it is made, and one whose result never came is found again.
   */
  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE callback_events ADD COLUMN sending_since timestamptz`);
    await queryRunner.query(
      `CREATE INDEX callback_events_sending_idx ON callback_events (sending_since)
        WHERE sending_since IS NOT NULL`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX callback_events_sending_idx`);
    await queryRunner.query(`ALTER TABLE callback_events DROP COLUMN sending_since`);
  }
}
