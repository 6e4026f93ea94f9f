/**
 * The e2e suite's own Postgres database and Redis key prefix, on the servers that scripts/setup.sh
 * resolved: `<name>_test_<run>` and `test-<run>:`, so that a test run never touches the data of
 * `npm run local`, nor another test run going on at the same time.
 */
export function testEnvironment(): Record<string, string> {
  process.env.TEST_RUN_ID ??= String(process.pid);
  const run = process.env.TEST_RUN_ID;
  const database = new URL(
    process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/reports',
  );
  database.pathname = `${database.pathname.replace(/_test_\d+$/, '')}_test_${run}`;
  const redis = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0');
  redis.pathname = '/15';
  return {
    DATABASE_URL: database.toString(),
    REDIS_URL: redis.toString(),
    QUEUE_PREFIX: `test-${run}`,
    // A fixed key: the suite's secrets are throwaway.
    WEBHOOK_SECRETS_KEY: Buffer.alloc(32, 1).toString('base64'),
    // Every spec calls from 127.0.0.1, many with made-up keys on purpose: the per-address limit on
    // them is tested on its own (test/operations/overload.e2e-spec.ts).
    RATE_LIMIT_UNAUTHENTICATED_PER_MINUTE: '1000000',
    // The suite's partners listen on loopback, on ports of the system's choosing: the default ports
    // are tested on their own (test/callbacks/callback-ssrf.e2e-spec.ts).
    CALLBACK_ALLOWED_PORTS: '1-65535',
  };
}

/** Deletes this run's keys from Redis: what a Redis restart does to the service's queues. */
export async function forgetQueues(
  redis: import('ioredis').Redis,
  prefix = testEnvironment().QUEUE_PREFIX,
): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    if (keys.length) await redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
}

/** The URL of the database `<run database>_<suffix>` (the teardown drops it with the run's). */
export function databaseBeside(suffix: string): string {
  const database = new URL(testEnvironment().DATABASE_URL);
  database.pathname = `${database.pathname}_${suffix}`;
  return database.toString();
}

/**
 * A database of its own beside the run's (`<run database>_<suffix>`, dropped by the teardown),
 * emptied, and migrated as production is unless `migrated` is false. Its URL.
 */
export async function ownDatabase(suffix: string, migrated = true): Promise<string> {
  const { Client } = await import('pg');
  const { DataSource } = await import('typeorm');
  const { dataSourceOptions } = await import('../../src/database/database-options');
  const { createDatabaseIfMissing, runMigrations } = await import('../../src/database/migrate');
  const url = databaseBeside(suffix);
  await createDatabaseIfMissing(url);
  const pg = new Client({ connectionString: url });
  await pg.connect();
  await pg.query('DROP SCHEMA public CASCADE; CREATE SCHEMA public');
  await pg.end();
  if (migrated) {
    const dataSource = await new DataSource(dataSourceOptions(url)).initialize();
    await runMigrations(dataSource);
    await dataSource.destroy();
  }
  return url;
}
