import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../../src/database/database-options';
import { createDatabaseIfMissing, runMigrations } from '../../src/database/migrate';
import { testEnvironment } from './env';

/** A database of this run's own, migrated as production is. */
export default async function globalSetup(): Promise<void> {
  const env = testEnvironment();
  await createDatabaseIfMissing(env.DATABASE_URL);
  const dataSource = await new DataSource(dataSourceOptions(env.DATABASE_URL)).initialize();
  await runMigrations(dataSource);
  await dataSource.destroy();
}
