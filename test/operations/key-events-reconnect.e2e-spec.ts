import Redis from 'ioredis';
import { ClientsRepository } from '../../src/clients/clients.repository';
import { testEnvironment } from '../support/env';
import { call, newClient, startApp, TestApp } from '../support/harness';
import { eventually } from '../support/receiver';

const status = async (test: TestApp, key: string) =>
  (await call(test, 'GET', '/v1/orders', { key })).status;

describe('Key changes published while an API process was not subscribed', () => {
  let test: TestApp;
  let redis: Redis;

  beforeAll(async () => {
    test = await startApp({ APP_ROLE: 'api' });
    redis = new Redis(testEnvironment().REDIS_URL);
  });
  afterAll(async () => {
    redis.disconnect();
    await test.close();
  });

  it('refuses a key revoked while its subscriber was reconnecting, once it is back, not a minute later', async () => {
    const { QUEUE_PREFIX } = testEnvironment();
    const channel = `${QUEUE_PREFIX}:api-keys-changed`;
    const shop = await newClient(test, 'Revoked meanwhile');
    expect(await status(test, shop.api_key)).toBe(200); // now in the process's key cache

    // The subscriber of this run's process, by the name it gives its connection.
    const subscriber = String(await redis.call('CLIENT', 'LIST', 'TYPE', 'pubsub'))
      .split('\n')
      .find((line) => line.includes(` name=${channel}:subscriber `));
    const id = /\bid=(\d+)\b/.exec(subscriber ?? '')?.[1];
    expect(id).toBeDefined();
    // Revoked as the CLI does (the row, then the message), the message sent right after the
    // subscriber's connection is killed, in the same write: it cannot be subscribed again in time.
    await test.app.get(ClientsRepository).revokeKeys(shop.id);
    const [[killError], [publishError, listeners]] = (await redis
      .pipeline()
      .client('KILL', 'ID', id!)
      .publish(channel, shop.id)
      .exec())!;
    expect(killError).toBeNull();
    expect(publishError).toBeNull();
    expect(listeners).toBe(0); // nobody heard it

    // Its key cache lasts a minute; once subscribed again, the process forgets every key it knew.
    await eventually(async () => (await status(test, shop.api_key)) === 401, 10);
  });
});
