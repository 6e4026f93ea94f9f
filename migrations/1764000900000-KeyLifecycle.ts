import { MigrationInterface, QueryRunner } from 'typeorm';

export class KeyLifecycle1764000900000 implements MigrationInterface {
  name = 'KeyLifecycle1764000900000';

  /**
   * API keys rotate and can be revoked: the key before a rotation keeps working until
   * previous_api_key_expires_at; a revoked client has no key (api_key_hash NULL) until a rotation
   * gives it a new one.
   */
  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      ALTER TABLE clients
        ALTER COLUMN api_key_hash DROP NOT NULL,
        ADD COLUMN api_key_created_at timestamptz NOT NULL DEFAULT now(),
        ADD COLUMN api_key_revoked_at timestamptz,
        ADD COLUMN previous_api_key_hash char(64),
        ADD COLUMN previous_api_key_expires_at timestamptz`);
    await queryRunner.query(`UPDATE clients SET api_key_created_at = created_at`);
    await queryRunner.query(
      `CREATE UNIQUE INDEX clients_previous_api_key_hash_unique ON clients (previous_api_key_hash)
        WHERE previous_api_key_hash IS NOT NULL`,
    );
  }

  /** A revoked client gets an unusable key hash back (NOT NULL again): it stays without a key. */
  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX clients_previous_api_key_hash_unique`);
    await queryRunner.query(
      `UPDATE clients SET api_key_hash = 'revoked:' || substr(md5(id::text), 1, 56)
        WHERE api_key_hash IS NULL`,
    );
    await queryRunner.query(`
      ALTER TABLE clients
        ALTER COLUMN api_key_hash SET NOT NULL,
        DROP COLUMN api_key_created_at,
        DROP COLUMN api_key_revoked_at,
        DROP COLUMN previous_api_key_hash,
        DROP COLUMN previous_api_key_expires_at`);
  }
}
