import { MigrationInterface, QueryRunner } from 'typeorm';

export class TimeZones1764000700000 implements MigrationInterface {
  name = 'TimeZones1764000700000';

  /**
   * The merchant's time zone (IANA name): a client's default for its reports, and the zone a report's
   * period runs in, from local midnight to local midnight, and its times print in. Every period so
   * far was in UTC.
   */
  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE clients ADD COLUMN time_zone text NOT NULL DEFAULT 'UTC'`);
    await queryRunner.query(`ALTER TABLE reports ADD COLUMN time_zone text NOT NULL DEFAULT 'UTC'`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE reports DROP COLUMN time_zone`);
    await queryRunner.query(`ALTER TABLE clients DROP COLUMN time_zone`);
  }
}
