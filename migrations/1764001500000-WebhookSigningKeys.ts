import { MigrationInterface, QueryRunner } from 'typeorm';

export class WebhookSigningKeys1764001500000 implements MigrationInterface {
  name = 'WebhookSigningKeys1764001500000';

  /**
   * Each client's ed25519 key pairs (Standard Webhooks `v1a`): the current one (no expiry) and,
   * after a rotation, the previous one until its overlap ends. The private key is encrypted with
   * WEBHOOK_SECRETS_KEY by the service, so existing clients get their first pair on first use,
   * not here.
   */
  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE webhook_signing_keys (
        id uuid PRIMARY KEY,
        client_id uuid NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
        public_key bytea NOT NULL CHECK (octet_length(public_key) = 32),
        private_key text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz
      )`);
    await queryRunner.query(
      `CREATE UNIQUE INDEX webhook_signing_keys_current ON webhook_signing_keys (client_id)
        WHERE expires_at IS NULL`,
    );
    await queryRunner.query(
      `CREATE INDEX webhook_signing_keys_client_idx ON webhook_signing_keys (client_id)`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE webhook_signing_keys`);
  }
}
