import { Inject, Injectable, Logger } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { KeyObject, randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { decryptSecret, encryptSecret } from '../common/encryption';
import { secretsConfig } from '../config/configuration';
import { generateApiKey, hashApiKey } from './api-key';
import { ClientsRepository, SECRET_COLUMNS, SecretColumn } from './clients.repository';
import { formatPublicKey, generateSigningKeyPair, privateKeyObject } from './signing-key';
import { NewSigningKey, PublicSigningKey, SigningKeysRepository } from './signing-keys.repository';
import { generateWebhookSecret, ROTATION_OVERLAP_MS } from './webhook-secret';

/**
 * A secret's place is its associated data: a value copied elsewhere does not decrypt. A webhook
 * secret's is its client and column; a private signing key's, its client and key.
 */
const place = (clientId: string, column: SecretColumn) => `clients:${clientId}:${column}`;
const keyPlace = (clientId: string, keyId: string) =>
  `webhook_signing_keys:${clientId}:${keyId}:private_key`;

/** A public signing key as the client reads it. */
const listed = (key: PublicSigningKey) => ({
  id: key.id,
  public_key: formatPublicKey(key.publicKey),
  since: key.createdAt.toISOString(),
  expires_at: key.expiresAt?.toISOString() ?? null,
});

/**
 * Makes API keys, webhook secrets and signing keys, and shapes the answers. Also built by hand, by
 * the CLI and the benchmarks (`ClientsService.of`).
 */
@Injectable()
export class ClientsService {
  private readonly logger = new Logger(ClientsService.name);

  constructor(
    private readonly clients: ClientsRepository,
    private readonly signingKeys: SigningKeysRepository,
    @Inject(secretsConfig.KEY) private readonly secrets: ConfigType<typeof secretsConfig>,
  ) {}

  /** Outside Nest: over `dataSource`, with the environment's WEBHOOK_SECRETS_KEY. */
  static of(dataSource: DataSource): ClientsService {
    return new ClientsService(
      new ClientsRepository(dataSource),
      new SigningKeysRepository(dataSource),
      secretsConfig(),
    );
  }

  /**
   * A client with a new API key and webhook secret (the only time either is shown), and its first
   * signing key. `timeZone` (an IANA name, canonical) is its reports' default.
   */
  async create(name: string, timeZone = 'UTC') {
    const [id, apiKey, secret] = [randomUUID(), generateApiKey(), generateWebhookSecret()];
    const apiKeyHash = hashApiKey(apiKey);
    const webhookSecret = this.seal(secret, id, 'webhook_secret');
    const signingKey = this.newSigningKey(id);
    await this.clients.insert({ id, name, timeZone, apiKeyHash, webhookSecret }, (transaction) =>
      this.signingKeys.insert(id, signingKey, transaction),
    );
    return { id, name, time_zone: timeZone, api_key: apiKey, webhook_secret: secret };
  }

  /** Every client as `clients:list` shows it: never a key, a hash or a secret. */
  async list() {
    return (await this.clients.list()).map((row) => ({
      id: row.id,
      name: row.name,
      time_zone: row.timeZone,
      created_at: row.createdAt.toISOString(),
      key: {
        state: row.apiKeyRevokedAt ? 'revoked' : 'active',
        since: (row.apiKeyRevokedAt ?? row.apiKeyCreatedAt).toISOString(),
        previous_key_expires_at: row.previousApiKeyExpiresAt?.toISOString() ?? null,
      },
    }));
  }

  /** A new API key, shown once; the old one works `graceHours` more. Undefined: no such client. */
  async rotateKey(id: string, graceHours: number) {
    const apiKey = generateApiKey();
    const found = await this.clients.replaceKey(id, hashApiKey(apiKey), graceHours);
    return found ? { id, api_key: apiKey } : undefined;
  }

  /**
   * A new webhook secret; the current one keeps signing for ROTATION_OVERLAP_MS (written again for
   * its new place: each value is bound to its row and column).
   */
  async rotateWebhookSecret(id: string) {
    const secret = generateWebhookSecret();
    const expiresAt = new Date(Date.now() + ROTATION_OVERLAP_MS);
    await this.clients.replaceWebhookSecret(id, expiresAt, (sealed) => {
      const current = this.readable(sealed, id, 'webhook_secret');
      const previous = current ? this.seal(current, id, 'previous_webhook_secret') : undefined;
      return [this.seal(secret, id, 'webhook_secret'), previous];
    });
    return { webhook_secret: secret, previous_secret_expires_at: expiresAt.toISOString() };
  }

  /**
   * The secret decrypted, or undefined when there is none, or (reported) when it does not decrypt:
   * it cannot sign, and a rotation replaces it without an overlap.
   */
  private readable(sealed: string | null | undefined, clientId: string, column: SecretColumn) {
    return sealed
      ? this.opened(sealed, place(clientId, column), clientId, `its ${column}`)
      : undefined;
  }

  /** The value decrypted, or undefined (reported: `what` of client `clientId` does not decrypt). */
  private opened(sealed: string, context: string, clientId: string, what: string) {
    try {
      return decryptSecret(sealed, this.secrets.keys, context).secret;
    } catch (error) {
      this.logger.warn(`Client ${clientId}: ${what} does not decrypt: ${String(error)}`);
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
    const [row] = await this.clients.webhookSecrets(clientId);
    const secrets = SECRET_COLUMNS.map((column) => this.readable(row?.[column], clientId, column));
    return secrets.filter((secret): secret is string => Boolean(secret));
  }

  /**
   * Writes every webhook secret and private signing key again under the current WEBHOOK_SECRETS_KEY
   * (after a rotation of the key, or to upgrade older values). Answers how many were written again,
   * and how many do not decrypt with any key the service has (left as they are).
   */
  async reencryptSecrets(): Promise<{ reencrypted: number; unreadable: number }> {
    const counts = { reencrypted: 0, unreadable: 0 };
    /** Writes one value again if it is readable and not yet under the current key. */
    const again = async (
      value: string,
      context: string,
      write: (sealed: string) => Promise<boolean>,
    ) => {
      let opened: { secret: string; upToDate: boolean };
      try {
        opened = decryptSecret(value, this.secrets.keys, context);
      } catch {
        counts.unreadable += 1;
        return;
      }
      if (opened.upToDate) return;
      const sealed = encryptSecret(opened.secret, this.secrets.keys.current, context);
      if (await write(sealed)) counts.reencrypted += 1;
    };
    for (const row of await this.clients.allWebhookSecrets()) {
      for (const column of SECRET_COLUMNS) {
        const value = row[column];
        if (!value) continue;
        await again(value, place(row.id, column), (sealed) =>
          this.clients.replaceSecret(row.id, column, sealed, value),
        );
      }
    }
    for (const key of await this.signingKeys.all()) {
      await again(key.privateKey, keyPlace(key.clientId, key.id), (sealed) =>
        this.signingKeys.replacePrivateKey(key.id, sealed, key.privateKey),
      );
    }
    return counts;
  }

  /**
   * The client's public signing keys that sign now, current first (with its first made on first
   * use, for a client from before signing keys).
   */
  async listSigningKeys(clientId: string) {
    let keys = await this.signingKeys.listed(clientId);
    if (!keys.some((key) => key.expiresAt === null)) {
      await this.signingKeys.insertIfNone(clientId, () => this.newSigningKey(clientId));
      keys = await this.signingKeys.listed(clientId);
    }
    return { data: keys.map(listed) };
  }

  /**
   * A new signing key pair; the current one keeps signing for ROTATION_OVERLAP_MS, unless its
   * private half does not decrypt (then it could not sign: it goes at once). Answers the list.
   */
  async rotateSigningKey(clientId: string) {
    const until = new Date(Date.now() + ROTATION_OVERLAP_MS);
    await this.signingKeys.rotate(clientId, this.newSigningKey(clientId), (current) =>
      this.privateKey(clientId, current) ? until : undefined,
    );
    return this.listSigningKeys(clientId);
  }

  /**
   * The private keys that sign the client's callbacks now: the current one (made on first use), then
   * the previous while its overlap lasts. A key that does not decrypt is reported and left out, as
   * a webhook secret is.
   */
  async signingPrivateKeys(clientId: string): Promise<KeyObject[]> {
    let rows = await this.signingKeys.signing(clientId);
    if (rows.length === 0) {
      await this.signingKeys.insertIfNone(clientId, () => this.newSigningKey(clientId));
      rows = await this.signingKeys.signing(clientId);
    }
    const keys = rows.map((row) => this.privateKey(clientId, row));
    return keys.filter((key): key is KeyObject => Boolean(key));
  }

  /** A stored private key, decrypted; undefined (reported) when it does not decrypt. */
  private privateKey(clientId: string, row: { id: string; privateKey: string }) {
    const where = keyPlace(clientId, row.id);
    const pkcs8 = this.opened(row.privateKey, where, clientId, `its signing key ${row.id}`);
    return pkcs8 ? privateKeyObject(pkcs8) : undefined;
  }

  private seal(secret: string, clientId: string, column: SecretColumn): string {
    return encryptSecret(secret, this.secrets.keys.current, place(clientId, column));
  }

  /** A new ed25519 pair for the client, its private half sealed in its own place. */
  private newSigningKey(clientId: string): NewSigningKey {
    const id = randomUUID();
    const { publicKey, privateKey } = generateSigningKeyPair();
    const sealed = encryptSecret(privateKey, this.secrets.keys.current, keyPlace(clientId, id));
    return { id, publicKey, privateKey: sealed };
  }
}
