import { DataSource } from 'typeorm';
import { generateApiKey, hashApiKey } from './api-key';
import { Client } from './client.entity';

export interface CreatedClient {
  id: string;
  name: string;
  api_key: string;
}

/** Creates a client and returns its API key: the only time the key exists outside a hash. */
export async function createClient(dataSource: DataSource, name: string): Promise<CreatedClient> {
  const apiKey = generateApiKey();
  const client = await dataSource
    .getRepository(Client)
    .save({ name, apiKeyHash: hashApiKey(apiKey) });
  return { id: client.id, name: client.name, api_key: apiKey };
}
