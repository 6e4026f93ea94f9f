import { MigrationInterface, QueryRunner } from 'typeorm';

export class InitialSchema1764000000000 implements MigrationInterface {
  name = 'InitialSchema1764000000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE clients (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        name text NOT NULL,
        api_key_hash char(64) NOT NULL UNIQUE,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await queryRunner.query(`
      CREATE TABLE orders (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        client_id uuid NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
        number text NOT NULL,
        placed_at timestamptz NOT NULL,
        status text NOT NULL,
        currency char(3) NOT NULL,
        customer_name text NOT NULL,
        customer_email text NOT NULL,
        items jsonb NOT NULL,
        item_count integer NOT NULL,
        total numeric(18,2) NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT orders_client_number_unique UNIQUE (client_id, number)
      )`);
    // The report query and the orders listing both walk one client's orders in placed_at order.
    await queryRunner.query(
      `CREATE INDEX orders_client_placed_at_idx ON orders (client_id, placed_at, id)`,
    );
    await queryRunner.query(`
      CREATE TABLE reports (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        client_id uuid NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
        start_date date NOT NULL,
        end_date date NOT NULL,
        status text NOT NULL DEFAULT 'PENDING',
        progress smallint NOT NULL DEFAULT 0,
        error_code text,
        error_message text,
        callback_url text,
        order_count integer,
        pdf_size integer,
        pdf_etag text,
        render_ms integer,
        created_at timestamptz NOT NULL DEFAULT now(),
        started_at timestamptz,
        completed_at timestamptz,
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT reports_period_check CHECK (end_date > start_date)
      )`);
    await queryRunner.query(
      `CREATE INDEX reports_client_created_at_idx ON reports (client_id, created_at DESC, id)`,
    );
    // Feeds the Retry-After estimate: the most recent render times.
    await queryRunner.query(
      `CREATE INDEX reports_completed_at_idx ON reports (completed_at DESC) WHERE status = 'COMPLETED'`,
    );
    // PDF bytes live apart from the rows that status polling reads.
    await queryRunner.query(`
      CREATE TABLE report_files (
        report_id uuid PRIMARY KEY REFERENCES reports(id) ON DELETE CASCADE,
        pdf bytea NOT NULL
      )`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE report_files`);
    await queryRunner.query(`DROP TABLE reports`);
    await queryRunner.query(`DROP TABLE orders`);
    await queryRunner.query(`DROP TABLE clients`);
  }
}
