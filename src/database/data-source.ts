import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { databaseConfig } from '../config/configuration';
import { dataSourceOptions } from './database-options';

/** For the TypeORM CLI (`npm run typeorm -- migration:show`); the app and dist/cli.js migrate on their own. */
export default new DataSource(dataSourceOptions(databaseConfig().url));
