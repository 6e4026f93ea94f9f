import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';

/** A key as listed: never its private half. */
export interface PublicSigningKey {
  id: string;
  publicKey: Buffer;
  createdAt: Date;
  expiresAt: Date | null;
}

/** A key to write: its private half already sealed by ClientsService. */
export interface NewSigningKey {
  id: string;
  publicKey: Buffer;
  privateKey: string;
}

/** The keys that sign now: the current one (no expiry) first, then the previous while it lasts. */
const SIGNING_NOW = `client_id = $1 AND (expires_at IS NULL OR expires_at > now())
  ORDER BY expires_at IS NOT NULL, created_at DESC, id`;

/** Every statement on `webhook_signing_keys`. Also built by hand, by the CLI. */
@Injectable()
export class SigningKeysRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** Writes the client's current key; `manager`: inside the caller's transaction. */
  async insert(
    clientId: string,
    key: NewSigningKey,
    manager: EntityManager = this.dataSource.manager,
  ) {
    await manager.query(
      `INSERT INTO webhook_signing_keys (id, client_id, public_key, private_key)
       VALUES ($1, $2, $3, $4)`,
      [key.id, clientId, key.publicKey, key.privateKey],
    );
  }

  /** The client's public keys that sign now, current first. */
  listed(clientId: string) {
    return this.dataSource.query<PublicSigningKey[]>(
      `SELECT id, public_key AS "publicKey", created_at AS "createdAt", expires_at AS "expiresAt"
         FROM webhook_signing_keys WHERE ${SIGNING_NOW}`,
      [clientId],
    );
  }

  /** The client's keys that sign now, current first, their private halves sealed. */
  signing(clientId: string) {
    return this.dataSource.query<Array<{ id: string; privateKey: string }>>(
      `SELECT id, private_key AS "privateKey" FROM webhook_signing_keys WHERE ${SIGNING_NOW}`,
      [clientId],
    );
  }

  /**
   * With the client's row locked, writes `make()` as its current key unless it has one: a client
   * from before signing keys gets its first on first use, once, however many processes ask at once.
   * False: no such client.
   */
  async insertIfNone(clientId: string, make: () => NewSigningKey): Promise<boolean> {
    return this.dataSource.transaction(async (transaction) => {
      if (!(await this.lockClient(transaction, clientId))) return false;
      const [current] = await transaction.query<unknown[]>(
        `SELECT 1 FROM webhook_signing_keys WHERE client_id = $1 AND expires_at IS NULL`,
        [clientId],
      );
      if (!current) await this.insert(clientId, make(), transaction);
      return true;
    });
  }

  /**
   * With the client's row locked: a key still in its overlap stops now, the current one signs until
   * `overlap(current)` (undefined: it stops now too), and `key` becomes current. Only two keys ever
   * sign at once, as with webhook secrets. False: no such client.
   */
  async rotate(
    clientId: string,
    key: NewSigningKey,
    overlap: (current: { id: string; privateKey: string }) => Date | undefined,
  ): Promise<boolean> {
    return this.dataSource.transaction(async (transaction) => {
      if (!(await this.lockClient(transaction, clientId))) return false;
      await transaction.query(
        `DELETE FROM webhook_signing_keys WHERE client_id = $1 AND expires_at IS NOT NULL`,
        [clientId],
      );
      const [current] = await transaction.query<Array<{ id: string; privateKey: string }>>(
        `SELECT id, private_key AS "privateKey" FROM webhook_signing_keys
          WHERE client_id = $1 AND expires_at IS NULL`,
        [clientId],
      );
      const until = current && overlap(current);
      if (current && until) {
        await transaction.query(`UPDATE webhook_signing_keys SET expires_at = $2 WHERE id = $1`, [
          current.id,
          until,
        ]);
      } else if (current) {
        await transaction.query(`DELETE FROM webhook_signing_keys WHERE id = $1`, [current.id]);
      }
      await this.insert(clientId, key, transaction);
      return true;
    });
  }

  /** Every private key as stored, for writing them again under another key. */
  all() {
    return this.dataSource.query<Array<{ id: string; clientId: string; privateKey: string }>>(
      `SELECT id, client_id AS "clientId", private_key AS "privateKey" FROM webhook_signing_keys`,
    );
  }

  /** Writes `sealed` over `read`, unless it changed meanwhile (deleted by a rotation). */
  async replacePrivateKey(id: string, sealed: string, read: string): Promise<boolean> {
    const [updated] = await this.dataSource.query<[unknown[], number]>(
      `UPDATE webhook_signing_keys SET private_key = $2 WHERE id = $1 AND private_key = $3
       RETURNING id`,
      [id, sealed, read],
    );
    return updated.length > 0;
  }

  private async lockClient(transaction: EntityManager, clientId: string): Promise<boolean> {
    const rows = await transaction.query<unknown[]>(
      `SELECT 1 FROM clients WHERE id = $1 FOR UPDATE`,
      [clientId],
    );
    return rows.length > 0;
  }
}
