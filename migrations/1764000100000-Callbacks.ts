import { MigrationInterface, QueryRunner } from 'typeorm';

export class Callbacks1764000100000 implements MigrationInterface {
  name = 'Callbacks1764000100000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    // Secrets are encrypted at rest (WEBHOOK_SECRETS_KEY); the previous one keeps signing for 24 h.
    await queryRunner.query(`
      ALTER TABLE clients
        ADD COLUMN webhook_secret text,
        ADD COLUMN previous_webhook_secret text,
        ADD COLUMN previous_webhook_secret_expires_at timestamptz`);
    await queryRunner.query(`
      CREATE TABLE callback_events (
        id text PRIMARY KEY,
        report_id uuid NOT NULL UNIQUE REFERENCES reports(id) ON DELETE CASCADE,
        client_id uuid NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
        url text NOT NULL,
        payload text NOT NULL,
        status text NOT NULL DEFAULT 'PENDING',
        attempts integer NOT NULL DEFAULT 0,
        next_attempt_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    // The reconciliation sweep looks for events due and not delivered.
    await queryRunner.query(
      `CREATE INDEX callback_events_due_idx ON callback_events (next_attempt_at) WHERE status = 'PENDING'`,
    );
    await queryRunner.query(`
      CREATE TABLE callback_attempts (
        event_id text NOT NULL REFERENCES callback_events(id) ON DELETE CASCADE,
        attempt integer NOT NULL,
        at timestamptz NOT NULL DEFAULT now(),
        status_code integer,
        duration_ms integer NOT NULL,
        error text,
        response_excerpt text,
        PRIMARY KEY (event_id, attempt)
      )`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE callback_attempts`);
    await queryRunner.query(`DROP TABLE callback_events`);
    await queryRunner.query(`
      ALTER TABLE clients
        DROP COLUMN webhook_secret,
        DROP COLUMN previous_webhook_secret,
        DROP COLUMN previous_webhook_secret_expires_at`);
  }
}
