import { MigrationInterface, QueryRunner } from 'typeorm';

export class RenderAttempts1764000300000 implements MigrationInterface {
  name = 'RenderAttempts1764000300000';

  /**
   * How many times a worker claimed the report. Bull's own counters live in the job, and a job lost
   * with its worker (or with Redis) is queued again by the sweep with fresh counters: this one is not.
   */
  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE reports ADD COLUMN render_attempts integer NOT NULL DEFAULT 0`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE reports DROP COLUMN render_attempts`);
  }
}
