import Redis from 'ioredis';
import { Client as PgClient } from 'pg';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../src/database/database-options';
import { runMigrations } from '../src/database/migrate';
import { testEnvironment } from './env';

/** A fresh schema and an empty Redis database before the e2e suite, migrated as production is. */
export default async function globalSetup(): Promise<void> {
  const env = testEnvironment();
  const url = new URL(env.DATABASE_URL);
  const name = url.pathname.slice(1);
  const admin = new PgClient({
    connectionString: Object.assign(new URL(url), { pathname: '/postgres' }).toString(),
  });
  await admin.connect();
  const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
  if (!rowCount) await admin.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
  await admin.end();

  const dataSource = await new DataSource(dataSourceOptions(env.DATABASE_URL)).initialize();
  await dataSource.query('DROP SCHEMA public CASCADE; CREATE SCHEMA public');
  await runMigrations(dataSource);
  await dataSource.destroy();

  const redis = new Redis(env.REDIS_URL, { maxRetriesPerRequest: 1 });
  await redis.flushdb();
  redis.disconnect();
}
