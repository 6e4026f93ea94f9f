import { DataSource } from 'typeorm';
import { encryptSecret, generateWebhookSecret } from '../callbacks/signing';
import { generateApiKey, hashApiKey } from './api-key';
import { Client } from './client.entity';

export interface CreatedClient {
  id: string;
  name: string;
  api_key: string;
  webhook_secret: string;
}

/**
 * Creates a client with its API key (stored hashed) and its webhook secret (stored encrypted): the
 * only time either is shown.
 */
export async function createClient(
  dataSource: DataSource,
  name: string,
  secretsKey: Buffer,
): Promise<CreatedClient> {
  const apiKey = generateApiKey();
  const webhookSecret = generateWebhookSecret();
  const client = await dataSource.getRepository(Client).save({
    name,
    apiKeyHash: hashApiKey(apiKey),
    webhookSecret: encryptSecret(webhookSecret, secretsKey),
  });
  return { id: client.id, name: client.name, api_key: apiKey, webhook_secret: webhookSecret };
}
