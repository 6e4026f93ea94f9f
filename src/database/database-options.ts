import { join } from 'node:path';
import { DataSourceOptions } from 'typeorm';
import { CallbackAttempt, CallbackEvent } from '../callbacks/callback-event.entity';
import { Client } from '../clients/client.entity';
import { WebhookSigningKey } from '../clients/signing-key.entity';
import { Order } from '../orders/order.entity';
import { Report, ReportFileChunk } from '../reports/store/report.entity';

// Built: dist/migrations/*.js beside dist/database; from source (tests, ts-node): ./migrations/*.ts.
const MIGRATIONS = __filename.endsWith('.ts')
  ? join(__dirname, '..', '..', 'migrations', '*.ts')
  : join(__dirname, '..', 'migrations', '*.js');

/** The one description of the database, shared by the app, the admin CLI and the TypeORM CLI. */
export function dataSourceOptions(url: string): DataSourceOptions {
  return {
    type: 'postgres',
    url,
    entities: [
      Client,
      WebhookSigningKey,
      Order,
      Report,
      ReportFileChunk,
      CallbackEvent,
      CallbackAttempt,
    ],
    migrations: [MIGRATIONS],
    migrationsRun: false,
    synchronize: false,
    // TypeORM's default logger prints migration failures with console.log: on the CLI's stdout,
    // which holds its JSON document alone, and as non-JSON lines among the server's logs. The
    // error itself is thrown, and reported by whoever ran the migrations. 'debug' writes only
    // under DEBUG=typeorm:*.
    logger: 'debug',
    extra: { max: 10, connectionTimeoutMillis: 5000 },
  };
}
