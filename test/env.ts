/**
 * The e2e suite's own database (`<name>_test`) and Redis database (index 15), on the servers that
 * scripts/setup.sh resolved, so that running the tests never touches the data of `npm run local`.
 */
export function testEnvironment(): Record<string, string> {
  const database = new URL(
    process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/reports',
  );
  database.pathname = `${database.pathname.replace(/_test$/, '')}_test`;
  const redis = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0');
  redis.pathname = '/15';
  return {
    DATABASE_URL: database.toString(),
    REDIS_URL: redis.toString(),
    // A fixed key: the suite's secrets are throwaway.
    WEBHOOK_SECRETS_KEY: Buffer.alloc(32, 1).toString('base64'),
  };
}
