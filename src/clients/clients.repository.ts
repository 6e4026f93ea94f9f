import { Inject, Injectable, Logger } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { decryptSecret, encryptSecret } from '../common/encryption';
import { secretsConfig } from '../config/configuration';
import { generateApiKey, hashApiKey } from './api-key';
import { Client } from './client.entity';
import { generateWebhookSecret, ROTATION_OVERLAP_MS } from './webhook-secret';

export interface CreatedClient {
  id: string;
  name: string;
  time_zone: string;
  api_key: string;
  webhook_secret: string;
}

/**
 * Every statement on `clients`: API keys (stored hashed) and webhook secrets (stored encrypted with
 * WEBHOOK_SECRETS_KEY, since signing needs them in the clear). Also built by hand, by the admin CLI.
 */
@Injectable()
export class ClientsRepository {
  private readonly logger = new Logger(ClientsRepository.name);

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(secretsConfig.KEY) private readonly secrets: ConfigType<typeof secretsConfig>,
  ) {}

  /**
   * A client with a new API key and webhook secret: the only time either is shown. `timeZone` (an
   * IANA name, canonical) is its reports' default.
   */
  async create(name: string, timeZone = 'UTC'): Promise<CreatedClient> {
    const apiKey = generateApiKey();
    const webhookSecret = generateWebhookSecret();
    const client = await this.dataSource.getRepository(Client).save({
      name,
      timeZone,
      apiKeyHash: hashApiKey(apiKey),
      webhookSecret: encryptSecret(webhookSecret, this.secrets.key),
    });
    return {
      id: client.id,
      name: client.name,
      time_zone: client.timeZone,
      api_key: apiKey,
      webhook_secret: webhookSecret,
    };
  }

  async idByKeyHash(keyHash: string): Promise<string | undefined> {
    const [row] = await this.dataSource.query<{ id: string }[]>(
      `SELECT id FROM clients WHERE api_key_hash = $1`,
      [keyHash],
    );
    return row?.id;
  }

  /** The client's name; undefined when there is no such client. */
  async name(id: string): Promise<string | undefined> {
    const [row] = await this.dataSource.query<{ name: string }[]>(
      `SELECT name FROM clients WHERE id = $1`,
      [id],
    );
    return row?.name;
  }

  /** The zone of the client's reports when they name none. */
  async timeZone(id: string): Promise<string> {
    const [row] = await this.dataSource.query<{ timeZone: string }[]>(
      `SELECT time_zone AS "timeZone" FROM clients WHERE id = $1`,
      [id],
    );
    return row?.timeZone ?? 'UTC';
  }

  /** A new secret; the current one keeps signing for ROTATION_OVERLAP_MS. */
  async rotateWebhookSecret(
    clientId: string,
  ): Promise<{ webhook_secret: string; previous_secret_expires_at: string }> {
    const secret = generateWebhookSecret();
    const expiresAt = new Date(Date.now() + ROTATION_OVERLAP_MS);
    await this.dataSource.query(
      `UPDATE clients SET previous_webhook_secret = webhook_secret,
              previous_webhook_secret_expires_at = $3, webhook_secret = $2
        WHERE id = $1`,
      [clientId, encryptSecret(secret, this.secrets.key), expiresAt],
    );
    return { webhook_secret: secret, previous_secret_expires_at: expiresAt.toISOString() };
  }

  /**
   * The secrets that sign the client's callbacks now, decrypted: the current one, then the previous
   * while its overlap lasts. A secret that does not decrypt (WEBHOOK_SECRETS_KEY changed) cannot
   * sign: it is left out, and with none left the caller records a failed attempt rather than
   * leaving the event stuck.
   */
  async webhookSecrets(clientId: string): Promise<string[]> {
    const [row] = await this.dataSource.query<{ secrets: Array<string | null> }[]>(
      `SELECT ARRAY[webhook_secret, CASE WHEN previous_webhook_secret_expires_at > now()
                                         THEN previous_webhook_secret END] AS secrets
         FROM clients WHERE id = $1`,
      [clientId],
    );
    return (row?.secrets ?? [])
      .filter((value): value is string => Boolean(value))
      .flatMap((value) => {
        try {
          return [decryptSecret(value, this.secrets.key)];
        } catch {
          this.logger.warn(
            `Client ${clientId}: a webhook secret does not decrypt with WEBHOOK_SECRETS_KEY`,
          );
          return [];
        }
      });
  }
}
