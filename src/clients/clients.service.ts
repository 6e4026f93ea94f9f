import { Inject, Injectable, Logger } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { randomUUID } from 'node:crypto';
import { decryptSecret, encryptSecret } from '../common/encryption';
import { secretsConfig } from '../config/configuration';
import { generateApiKey, hashApiKey } from './api-key';
import { ClientsRepository, SECRET_COLUMNS, SecretColumn } from './clients.repository';
import { generateWebhookSecret, ROTATION_OVERLAP_MS } from './webhook-secret';

/** A webhook secret's place is its associated data: a value copied elsewhere does not decrypt. */
const place = (clientId: string, column: SecretColumn) => `clients:${clientId}:${column}`;

/** Makes API keys and webhook secrets, and shapes the answers. Also built by hand, by the CLI. */
@Injectable()
export class ClientsService {
  private readonly logger = new Logger(ClientsService.name);

  constructor(
    private readonly clients: ClientsRepository,
    @Inject(secretsConfig.KEY) private readonly secrets: ConfigType<typeof secretsConfig>,
  ) {}

  /**
   * A client with a new API key and webhook secret: the only time either is shown. `timeZone` (an
   * IANA name, canonical) is its reports' default.
   */
  async create(name: string, timeZone = 'UTC') {
    const [id, apiKey, secret] = [randomUUID(), generateApiKey(), generateWebhookSecret()];
    const apiKeyHash = hashApiKey(apiKey);
    const webhookSecret = this.seal(secret, id, 'webhook_secret');
    await this.clients.insert({ id, name, timeZone, apiKeyHash, webhookSecret });
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
    if (!sealed) return undefined;
    try {
      return decryptSecret(sealed, this.secrets.keys, place(clientId, column)).secret;
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
    const [row] = await this.clients.webhookSecrets(clientId);
    const secrets = SECRET_COLUMNS.map((column) => this.readable(row?.[column], clientId, column));
    return secrets.filter((secret): secret is string => Boolean(secret));
  }

  /**
   * Writes every webhook secret again under the current WEBHOOK_SECRETS_KEY (after a rotation of
   * the key, or to upgrade older values). Answers how many were written again, and how many do not
   * decrypt with any key the service has (left as they are).
   */
  async reencryptSecrets(): Promise<{ reencrypted: number; unreadable: number }> {
    let reencrypted = 0;
    let unreadable = 0;
    for (const row of await this.clients.allWebhookSecrets()) {
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
        const sealed = this.seal(opened.secret, row.id, column);
        if (await this.clients.replaceSecret(row.id, column, sealed, value)) reencrypted += 1;
      }
    }
    return { reencrypted, unreadable };
  }

  private seal(secret: string, clientId: string, column: SecretColumn): string {
    return encryptSecret(secret, this.secrets.keys.current, place(clientId, column));
  }
}
