import Redis from 'ioredis';
import { Client } from 'pg';
import { forgetQueues, testEnvironment } from './env';

/** Drops this run's database and Redis keys. */
export default async function globalTeardown(): Promise<void> {
  const env = testEnvironment();
  const redis = new Redis(env.REDIS_URL, { maxRetriesPerRequest: 1 });
  await forgetQueues(redis).finally(() => redis.disconnect());
  const url = new URL(env.DATABASE_URL);
  const name = url.pathname.slice(1);
  url.pathname = '/postgres';
  const admin = new Client({ connectionString: url.toString() });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS "${name.replace(/"/g, '""')}" WITH (FORCE)`);
  await admin.end();
}
