import 'reflect-metadata';
import { parseArgs } from 'node:util';
import { DataSource } from 'typeorm';
import { ClientsRepository } from './clients/clients.repository';
import { isUuid } from './common/pagination';
import { canonicalTimeZone, periodErrors } from './common/period';
import { isCalendarDay } from './common/validation';
import { environment, secretsConfig } from './config/configuration';
import { dataSourceOptions } from './database/database-options';
import { runMigrations } from './database/migrate';
import { generateOrders } from './orders/order-seed';
import { OrdersRepository } from './orders/orders.repository';

/** The admin command line: one JSON document on stdout, errors on stderr with a non-zero exit code. */
const USAGE = `usage:
  node dist/cli.js migrate
  node dist/cli.js clients:create --name NAME [--time-zone ZONE]
  node dist/cli.js orders:seed --client-id ID --count N --start-date YYYY-MM-DD --end-date YYYY-MM-DD`;

class UsageError extends Error {}

function required(values: Record<string, string | undefined>, name: string): string {
  const value = values[name]?.trim();
  if (!value) throw new UsageError(`--${name} is required`);
  return value;
}

async function run(argv: string[]): Promise<unknown> {
  const [command, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: {
      name: { type: 'string' },
      'time-zone': { type: 'string' },
      'client-id': { type: 'string' },
      count: { type: 'string' },
      'start-date': { type: 'string' },
      'end-date': { type: 'string' },
    },
    strict: true,
  });
  if (!['migrate', 'clients:create', 'orders:seed'].includes(command)) {
    throw new UsageError(command ? `unknown command ${command}` : 'a command is required');
  }
  const dataSource = await new DataSource(
    dataSourceOptions(environment().DATABASE_URL),
  ).initialize();
  try {
    if (command === 'migrate') return { applied: await runMigrations(dataSource) };
    await runMigrations(dataSource);
    const clients = new ClientsRepository(dataSource, secretsConfig());
    if (command === 'clients:create') {
      const name = required(values, 'name');
      if (name.length > 200) throw new UsageError('--name must be at most 200 characters');
      const zone =
        values['time-zone'] === undefined ? 'UTC' : canonicalTimeZone(values['time-zone']);
      if (!zone) throw new UsageError('--time-zone must be an IANA time zone such as Europe/Paris');
      return await clients.create(name, zone);
    }
    const clientId = required(values, 'client-id');
    const count = Number(required(values, 'count'));
    const startDate = required(values, 'start-date');
    const endDate = required(values, 'end-date');
    if (!Number.isInteger(count) || count < 1 || count > 1_000_000) {
      throw new UsageError('--count must be a whole number from 1 to 1000000');
    }
    if (!isCalendarDay(startDate) || !isCalendarDay(endDate)) {
      throw new UsageError('--start-date and --end-date must be calendar dates YYYY-MM-DD');
    }
    const period = periodErrors(startDate, endDate, 36600);
    if (period.length > 0)
      throw new UsageError(`--end-date ${period[0].message.replace('start_date', '--start-date')}`);
    if (!isUuid(clientId) || (await clients.name(clientId)) === undefined) {
      throw new UsageError(`no client with id ${clientId}`);
    }
    const orders = generateOrders(count, startDate, endDate);
    return { inserted: await new OrdersRepository(dataSource).insertMany(clientId, orders) };
  } finally {
    await dataSource.destroy();
  }
}

run(process.argv.slice(2))
  .then((result) => {
    process.stdout.write(`${JSON.stringify(result)}\n`);
  })
  .catch((error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(
      error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')
        ? `${message}\n${USAGE}\n`
        : `error: ${message}\n`,
    );
    process.exit(error instanceof UsageError ? 2 : 1);
  });
