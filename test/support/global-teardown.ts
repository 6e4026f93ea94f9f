import Redis from 'ioredis';
import { Client } from 'pg';
import { forgetQueues, testEnvironment } from './env';

/** Drops this run's databases and Redis keys. */
export default async function globalTeardown(): Promise<void> {
  const env = testEnvironment();
  const redis = new Redis(env.REDIS_URL, { maxRetriesPerRequest: 1 });
  await forgetQueues(redis).finally(() => redis.disconnect());
  const url = new URL(env.DATABASE_URL);
  const name = url.pathname.slice(1);
  url.pathname = '/postgres';
  const admin = new Client({ connectionString: url.toString() });
  await admin.connect();
  // This run's database and those its specs made beside it (`<name>_secrets`, …).
  const { rows } = await admin.query<{ datname: string }>(
    `SELECT datname FROM pg_database WHERE datname = $1 OR starts_with(datname, $1 || '_')`,
    [name],
  );
  for (const { datname } of rows) {
    await admin.query(`DROP DATABASE IF EXISTS "${datname.replace(/"/g, '""')}" WITH (FORCE)`);
  }
  await admin.end();
}
