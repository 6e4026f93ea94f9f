import { Inject, Injectable, Logger } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { InjectDataSource } from '@nestjs/typeorm';
import { LRUCache } from 'lru-cache';
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { decryptSecret, encryptSecret } from '../common/encryption';
import { secretsConfig } from '../config/configuration';
import { generateApiKey, hashApiKey } from './api-key';
import { generateWebhookSecret, ROTATION_OVERLAP_MS } from './webhook-secret';

export interface CreatedClient {
  id: string;
  name: string;
  time_zone: string;
  api_key: string;
  webhook_secret: string;
}

/** A client as `clients:list` shows it: never a key, a hash or a secret. */
export interface ListedClient {
  id: string;
  name: string;
  time_zone: string;
  created_at: string;
  key: { state: 'active' | 'revoked'; since: string; previous_key_expires_at: string | null };
}

/** How long a process reuses a client's time zone. */
const TIME_ZONE_TTL_MS = 10 * 60_000;

/** The columns that hold webhook secrets; each value's place is its associated data. */
const SECRET_COLUMNS = ['webhook_secret', 'previous_webhook_secret'] as const;
type SecretColumn = (typeof SECRET_COLUMNS)[number];
const place = (clientId: string, column: SecretColumn) => `clients:${clientId}:${column}`;

/**
 * Every statement on `clients`: API keys (stored hashed; rotated with a grace period, revoked) and
 * webhook secrets (stored encrypted, since signing needs them in the clear). Also built by hand, by
 * the admin CLI.
 */
@Injectable()
export class ClientsRepository {
  private readonly logger = new Logger(ClientsRepository.name);
  private readonly timeZones = new LRUCache<string, string>({
    max: 10_000,
    ttl: TIME_ZONE_TTL_MS,
  });

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(secretsConfig.KEY) private readonly secrets: ConfigType<typeof secretsConfig>,
  ) {}

  /**
   * A client with a new API key and webhook secret: the only time either is shown. `timeZone` (an
   * IANA name, canonical) is its reports' default.
   */
  async create(name: string, timeZone = 'UTC'): Promise<CreatedClient> {
    const id = randomUUID();
    const apiKey = generateApiKey();
    const webhookSecret = generateWebhookSecret();
    await this.dataSource.query(
      `INSERT INTO clients (id, name, time_zone, api_key_hash, webhook_secret)
       VALUES ($1, $2, $3, $4, $5)`,
      [id, name, timeZone, hashApiKey(apiKey), this.seal(webhookSecret, id, 'webhook_secret')],
    );
    return { id, name, time_zone: timeZone, api_key: apiKey, webhook_secret: webhookSecret };
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

  async list(): Promise<ListedClient[]> {
    const rows = await this.dataSource.query<
      Array<{
        id: string;
        name: string;
        timeZone: string;
        createdAt: Date;
        revokedAt: Date | null;
        keyCreatedAt: Date;
        previousExpiresAt: Date | null;
      }>
    >(
      `SELECT id, name, time_zone AS "timeZone", created_at AS "createdAt",
              api_key_revoked_at AS "revokedAt", api_key_created_at AS "keyCreatedAt",
              CASE WHEN previous_api_key_expires_at > now() THEN previous_api_key_expires_at END
                AS "previousExpiresAt"
         FROM clients ORDER BY created_at, id`,
    );
    return rows.map((row) => ({
      id: row.id,
      name: row.name,
      time_zone: row.timeZone,
      created_at: row.createdAt.toISOString(),
      key: {
        state: row.revokedAt ? 'revoked' : 'active',
        since: (row.revokedAt ?? row.keyCreatedAt).toISOString(),
        previous_key_expires_at: row.previousExpiresAt?.toISOString() ?? null,
      },
    }));
  }

  /**
   * A new API key, shown this once; the current one keeps working for `graceHours` (0: stops at
   * once). A revoked client gets a key again. Undefined when there is no such client.
   */
  async rotateKey(
    id: string,
    graceHours: number,
  ): Promise<{ id: string; api_key: string } | undefined> {
    const apiKey = generateApiKey();
    const [rows] = await this.dataSource.query<[unknown[], number]>(
      `UPDATE clients
          SET previous_api_key_hash = api_key_hash,
              previous_api_key_expires_at = CASE WHEN api_key_hash IS NULL THEN NULL
                                                 ELSE now() + make_interval(hours => $3) END,
              api_key_hash = $2, api_key_created_at = now(), api_key_revoked_at = NULL
        WHERE id = $1
        RETURNING id`,
      [id, hashApiKey(apiKey), graceHours],
    );
    return rows.length > 0 ? { id, api_key: apiKey } : undefined;
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

  /**
   * A new webhook secret; the current one keeps signing for ROTATION_OVERLAP_MS (written again for
   * its new place: each value is bound to its row and column).
   */
  async rotateWebhookSecret(
    clientId: string,
  ): Promise<{ webhook_secret: string; previous_secret_expires_at: string }> {
    const secret = generateWebhookSecret();
    const expiresAt = new Date(Date.now() + ROTATION_OVERLAP_MS);
    await this.dataSource.transaction(async (transaction) => {
      const [row] = await transaction.query<{ current: string | null }[]>(
        `SELECT webhook_secret AS current FROM clients WHERE id = $1 FOR UPDATE`,
        [clientId],
      );
      const current = row?.current
        ? this.readable(row.current, clientId, 'webhook_secret')
        : undefined;
      await transaction.query(
        `UPDATE clients SET previous_webhook_secret = $3, previous_webhook_secret_expires_at = $4,
                webhook_secret = $2
          WHERE id = $1`,
        [
          clientId,
          this.seal(secret, clientId, 'webhook_secret'),
          current ? this.seal(current, clientId, 'previous_webhook_secret') : null,
          current ? expiresAt : null,
        ],
      );
    });
    return { webhook_secret: secret, previous_secret_expires_at: expiresAt.toISOString() };
  }

  /**
   * The secret decrypted, or undefined (reported) when it does not decrypt: it cannot sign, and a
   * rotation replaces it without an overlap.
   */
  private readable(sealed: string, clientId: string, column: SecretColumn): string | undefined {
    try {
      return this.open(sealed, clientId, column);
    } catch (error) {
      this.logger.warn(`Client ${clientId}: its ${column} does not decrypt: ${String(error)}`);
      return undefined;
    }
  }

  /**
   * The secrets that sign the client's callbacks now, decrypted: the current one, then the previous
   * while its overlap lasts. A secret that does not decrypt (copied from another row, tampered
   * with, or under a key the service no longer has) cannot sign: it is reported and left out, and
   * with none left the caller records a failed attempt rather than leaving the event stuck.
   */
  async webhookSecrets(clientId: string): Promise<string[]> {
    const [row] = await this.dataSource.query<
      { webhook_secret: string | null; previous_webhook_secret: string | null }[]
    >(
      `SELECT webhook_secret, CASE WHEN previous_webhook_secret_expires_at > now()
                                   THEN previous_webhook_secret END AS previous_webhook_secret
         FROM clients WHERE id = $1`,
      [clientId],
    );
    return SECRET_COLUMNS.flatMap((column) => {
      const value = row?.[column];
      const secret = value ? this.readable(value, clientId, column) : undefined;
      return secret ? [secret] : [];
    });
  }

  /**
   * Writes every webhook secret again under the current WEBHOOK_SECRETS_KEY (after a rotation of
   * the key, or to upgrade older values). Answers how many were written again, and how many do not
   * decrypt with any key the service has (left as they are).
   */
  async reencryptSecrets(): Promise<{ reencrypted: number; unreadable: number }> {
    const rows = await this.dataSource.query<
      Array<Record<SecretColumn, string | null> & { id: string }>
    >(
      `SELECT id, webhook_secret, previous_webhook_secret FROM clients
        WHERE webhook_secret IS NOT NULL OR previous_webhook_secret IS NOT NULL`,
    );
    let reencrypted = 0;
    let unreadable = 0;
    for (const row of rows) {
      for (const column of SECRET_COLUMNS) {
        const value = row[column];
        if (!value) continue;
        let opened: { secret: string; upToDate: boolean };
        try {
          opened = decryptSecret(value, this.secrets.keys, place(row.id, column));
        } catch {
          unreadable += 1;
          continue;
        }
        if (opened.upToDate) continue;
        // Only if the value is still the one read: a rotation meanwhile wrote a newer one.
        const [updated] = await this.dataSource.query<[unknown[], number]>(
          `UPDATE clients SET ${column} = $2 WHERE id = $1 AND ${column} = $3 RETURNING id`,
          [row.id, this.seal(opened.secret, row.id, column), value],
        );
        if (updated.length > 0) reencrypted += 1;
      }
    }
    return { reencrypted, unreadable };
  }

  private seal(secret: string, clientId: string, column: SecretColumn): string {
    return encryptSecret(secret, this.secrets.keys.current, place(clientId, column));
  }

  private open(value: string, clientId: string, column: SecretColumn): string {
    return decryptSecret(value, this.secrets.keys, place(clientId, column)).secret;
  }
}
