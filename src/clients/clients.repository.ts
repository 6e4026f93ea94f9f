import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { LRUCache } from 'lru-cache';
import { DataSource, EntityManager } from 'typeorm';
import { Client } from './client.entity';

/** The columns that hold webhook secrets, encrypted (by ClientsService). */
export const SECRET_COLUMNS = ['webhook_secret', 'previous_webhook_secret'] as const;
export type SecretColumn = (typeof SECRET_COLUMNS)[number];
type Sealed = Record<SecretColumn, string | null>;

/** How long a process reuses a client's time zone. */
const TIME_ZONE_TTL_MS = 10 * 60_000;

/** Every statement on `clients` (hashed keys, sealed secrets). Also built by hand, by the CLI. */
@Injectable()
export class ClientsRepository {
  private readonly timeZones = new LRUCache<string, string>({
    max: 10_000,
    ttl: TIME_ZONE_TTL_MS,
  });

  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** Writes the client, then `also` (its other rows) in the same transaction. */
  async insert(
    row: Pick<Client, 'id' | 'name' | 'timeZone' | 'apiKeyHash' | 'webhookSecret'>,
    also: (transaction: EntityManager) => Promise<void> = async () => {},
  ) {
    await this.dataSource.transaction(async (transaction) => {
      await transaction.query(
        `INSERT INTO clients (id, name, time_zone, api_key_hash, webhook_secret)
         VALUES ($1, $2, $3, $4, $5)`,
        [row.id, row.name, row.timeZone, row.apiKeyHash, row.webhookSecret],
      );
      await also(transaction);
    });
  }

  /** The client a key opens, and until when if it is a rotated-out key in its grace period. */
  async byKeyHash(keyHash: string): Promise<{ id: string; validUntil: Date | null } | undefined> {
    const [row] = await this.dataSource.query<{ id: string; validUntil: Date | null }[]>(
      `SELECT id, CASE WHEN api_key_hash = $1 THEN NULL ELSE previous_api_key_expires_at END
                  AS "validUntil"
         FROM clients
        WHERE api_key_hash = $1 OR (previous_api_key_hash = $1 AND previous_api_key_expires_at > now())`,
      [keyHash],
    );
    return row;
  }

  /**
   * The hash of every key that opens a client now (current keys, and rotated-out keys in their grace
   * period): what tells a made-up key from a valid one without a lookup per key.
   */
  async keyHashes(): Promise<string[]> {
    const rows = await this.dataSource.query<{ hash: string }[]>(
      `SELECT api_key_hash AS hash FROM clients WHERE api_key_hash IS NOT NULL
       UNION ALL
       SELECT previous_api_key_hash FROM clients
        WHERE previous_api_key_hash IS NOT NULL AND previous_api_key_expires_at > now()`,
    );
    return rows.map((row) => row.hash);
  }

  /** Every client, oldest first, with no key hash and no secret. */
  list() {
    type Listed = 'id' | 'name' | 'timeZone' | 'createdAt' | 'apiKeyRevokedAt' | 'apiKeyCreatedAt';
    return this.dataSource.query<Pick<Client, Listed | 'previousApiKeyExpiresAt'>[]>(
      `SELECT id, name, time_zone AS "timeZone", created_at AS "createdAt",
              api_key_revoked_at AS "apiKeyRevokedAt", api_key_created_at AS "apiKeyCreatedAt",
              CASE WHEN previous_api_key_expires_at > now() THEN previous_api_key_expires_at END
                AS "previousApiKeyExpiresAt"
         FROM clients ORDER BY created_at, id`,
    );
  }

  /** A new key hash; the current key keeps working for `graceHours`. False: no such client. */
  async replaceKey(id: string, keyHash: string, graceHours: number): Promise<boolean> {
    const [rows] = await this.dataSource.query<[unknown[], number]>(
      `UPDATE clients
          SET previous_api_key_hash = api_key_hash,
              previous_api_key_expires_at = CASE WHEN api_key_hash IS NULL THEN NULL
                                                 ELSE now() + make_interval(hours => $3) END,
              api_key_hash = $2, api_key_created_at = now(), api_key_revoked_at = NULL
        WHERE id = $1
        RETURNING id`,
      [id, keyHash, graceHours],
    );
    return rows.length > 0;
  }

  /** Every key of the client stops: false when there is no such client. */
  async revokeKeys(id: string): Promise<boolean> {
    const [rows] = await this.dataSource.query<[unknown[], number]>(
      `UPDATE clients
          SET api_key_hash = NULL, previous_api_key_hash = NULL, previous_api_key_expires_at = NULL,
              api_key_revoked_at = now()
        WHERE id = $1
        RETURNING id`,
      [id],
    );
    return rows.length > 0;
  }

  /** The client's name; undefined when there is no such client. */
  async name(id: string): Promise<string | undefined> {
    const [row] = await this.dataSource.query<{ name: string }[]>(
      `SELECT name FROM clients WHERE id = $1`,
      [id],
    );
    return row?.name;
  }

  /**
   * The zone of the client's reports when they name none. A client's zone is set when it is
   * created and never changes: read once per process (and again after TIME_ZONE_TTL_MS), not on
   * every POST.
   */
  async timeZone(id: string): Promise<string> {
    const known = this.timeZones.get(id);
    if (known) return known;
    const [row] = await this.dataSource.query<{ timeZone: string }[]>(
      `SELECT time_zone AS "timeZone" FROM clients WHERE id = $1`,
      [id],
    );
    if (!row) return 'UTC';
    this.timeZones.set(id, row.timeZone);
    return row.timeZone;
  }

  /** With the row locked, `next` turns the current secret into the new one and the previous. */
  async replaceWebhookSecret(id: string, until: Date, next: (old?: string) => [string, string?]) {
    await this.dataSource.transaction(async (transaction) => {
      const [row] = await transaction.query<{ current: string | null }[]>(
        `SELECT webhook_secret AS current FROM clients WHERE id = $1 FOR UPDATE`,
        [id],
      );
      const [secret, previous] = next(row?.current ?? undefined);
      await transaction.query(
        `UPDATE clients SET previous_webhook_secret = $3, previous_webhook_secret_expires_at = $4,
                webhook_secret = $2
          WHERE id = $1`,
        [id, secret, previous ?? null, previous ? until : null],
      );
    });
  }

  /** The client's webhook secrets (one row), sealed: the previous only while its overlap lasts. */
  webhookSecrets(id: string) {
    return this.dataSource.query<Sealed[]>(
      `SELECT webhook_secret, CASE WHEN previous_webhook_secret_expires_at > now()
                                   THEN previous_webhook_secret END AS previous_webhook_secret
         FROM clients WHERE id = $1`,
      [id],
    );
  }

  /** Every client's webhook secrets as stored, for writing them again under another key. */
  allWebhookSecrets() {
    return this.dataSource.query<Array<Sealed & { id: string }>>(
      `SELECT id, webhook_secret, previous_webhook_secret FROM clients
        WHERE webhook_secret IS NOT NULL OR previous_webhook_secret IS NOT NULL`,
    );
  }

  /** Writes `sealed` over `read`, unless a rotation meanwhile wrote a newer value. */
  async replaceSecret(id: string, column: SecretColumn, sealed: string, read: string) {
    const [updated] = await this.dataSource.query<[unknown[], number]>(
      `UPDATE clients SET ${column} = $2 WHERE id = $1 AND ${column} = $3 RETURNING id`,
      [id, sealed, read],
    );
    return updated.length > 0;
  }
}
