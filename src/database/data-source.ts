import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { databaseConfig } from '../config/configuration';
import { dataSourceOptions } from './database-options';

/** For the TypeORM CLI (`npm run typeorm -- migration:show`); the app and dist/cli.js migrate on their own. */
// A person reads this one's output: TypeORM's own console logger, which reports each migration.
export default new DataSource({
  ...dataSourceOptions(databaseConfig().url),
  logger: 'advanced-console',
});
