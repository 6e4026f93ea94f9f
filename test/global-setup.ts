import Redis from 'ioredis';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../src/database/database-options';
import { createDatabaseIfMissing, runMigrations } from '../src/database/migrate';
import { testEnvironment } from './env';

/** A fresh schema and an empty Redis database before the e2e suite, migrated as production is. */
export default async function globalSetup(): Promise<void> {
  const env = testEnvironment();
  await createDatabaseIfMissing(env.DATABASE_URL);
  const dataSource = await new DataSource(dataSourceOptions(env.DATABASE_URL)).initialize();
  await dataSource.query('DROP SCHEMA public CASCADE; CREATE SCHEMA public');
  await runMigrations(dataSource);
  await dataSource.destroy();

  const redis = new Redis(env.REDIS_URL, { maxRetriesPerRequest: 1 });
  await redis.flushdb();
  redis.disconnect();
}
