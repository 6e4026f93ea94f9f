import './instrument';
import 'reflect-metadata';
import { parseArgs } from 'node:util';
import { DataSource } from 'typeorm';
import { apiKeyChanges } from './clients/api-key.guard';
import { ClientsRepository } from './clients/clients.repository';
import { ClientsService } from './clients/clients.service';
import { isUuid } from './common/pagination';
import { canonicalTimeZone, periodErrors } from './common/period';
import { isCalendarDay } from './common/validation';
import { environment, redisConfig } from './config/configuration';
import { dataSourceOptions } from './database/database-options';
import { runMigrations } from './database/migrate';
import { generateOrders } from './orders/order-seed';
import { OrdersRepository } from './orders/orders.repository';
import { RedisConnections } from './redis/redis-connections';
import { shutdownTracing } from './tracing/sdk';
import { inSpan } from './tracing/spans';

/** The admin command line: one JSON document on stdout, errors on stderr with a non-zero exit code. */
const USAGE = `usage:
  node dist/cli.js migrate
  node dist/cli.js clients:create --name NAME [--time-zone ZONE]
  node dist/cli.js clients:list
  node dist/cli.js clients:rotate-key --client-id ID [--grace-hours N]
  node dist/cli.js clients:revoke-key --client-id ID
  node dist/cli.js orders:seed --client-id ID --count N --start-date YYYY-MM-DD --end-date YYYY-MM-DD
  node dist/cli.js secrets:reencrypt`;

class UsageError extends Error {}

/** What a command prints, and what it has to say on stderr (a failure makes the exit code 1). */
interface Outcome {
  result: unknown;
  warning?: string;
  error?: string;
}

type Values = Record<string, string | undefined>;

function required(values: Values, name: string): string {
  const value = values[name]?.trim();
  if (!value) throw new UsageError(`--${name} is required`);
  return value;
}

/** A whole number from `min` to `max`, or the default when the option is not given. */
function whole(values: Values, name: string, min: number, max: number, byDefault?: number) {
  if (values[name] === undefined && byDefault !== undefined) return byDefault;
  const value = Number(required(values, name));
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new UsageError(`--${name} must be a whole number from ${min} to ${max}`);
  }
  return value;
}

/** Each command, given the database and its options. */
const COMMANDS: Record<string, (dataSource: DataSource, values: Values) => Promise<Outcome>> = {
  'clients:create': async (dataSource, values) => {
    const name = required(values, 'name');
    if (name.length > 200) throw new UsageError('--name must be at most 200 characters');
    const zone = values['time-zone'] === undefined ? 'UTC' : canonicalTimeZone(values['time-zone']);
    if (!zone) throw new UsageError('--time-zone must be an IANA time zone such as Europe/Paris');
    return { result: await clients(dataSource).create(name, zone) };
  },

  'clients:list': async (dataSource) => ({ result: await clients(dataSource).list() }),

  'clients:rotate-key': async (dataSource, values) => {
    const id = await clientId(dataSource, values);
    const graceHours = whole(values, 'grace-hours', 0, 720, 24);
    const rotated = await clients(dataSource).rotateKey(id, graceHours);
    return { result: rotated, warning: await keysChanged(id) };
  },

  'clients:revoke-key': async (dataSource, values) => {
    const id = await clientId(dataSource, values);
    await new ClientsRepository(dataSource).revokeKeys(id);
    return { result: { id, revoked: true }, warning: await keysChanged(id) };
  },

  'orders:seed': async (dataSource, values) => {
    const id = await clientId(dataSource, values);
    const count = whole(values, 'count', 1, 1_000_000);
    const startDate = required(values, 'start-date');
    const endDate = required(values, 'end-date');
    if (!isCalendarDay(startDate) || !isCalendarDay(endDate)) {
      throw new UsageError('--start-date and --end-date must be calendar dates YYYY-MM-DD');
    }
    const period = periodErrors(startDate, endDate, 36600);
    if (period.length > 0)
      throw new UsageError(`--end-date ${period[0].message.replace('start_date', '--start-date')}`);
    const orders = generateOrders(count, startDate, endDate);
    return { result: { inserted: await new OrdersRepository(dataSource).insertMany(id, orders) } };
  },

  'secrets:reencrypt': async (dataSource) => {
    const { reencrypted, unreadable } = await clients(dataSource).reencryptSecrets();
    return {
      result: { reencrypted },
      error: unreadable
        ? `${unreadable} webhook secret(s) or signing key(s) do not decrypt with WEBHOOK_SECRETS_KEY or ` +
          'WEBHOOK_SECRETS_KEY_PREVIOUS: left as they are'
        : undefined,
    };
  },
};

const clients = (db: DataSource) => ClientsService.of(db);

async function clientId(dataSource: DataSource, values: Values): Promise<string> {
  const id = required(values, 'client-id');
  if (!isUuid(id) || (await new ClientsRepository(dataSource).name(id)) === undefined) {
    throw new UsageError(`no client with id ${id}`);
  }
  return id;
}

/** Tells every API process to forget the client's keys; a warning when Redis did not hear it. */
async function keysChanged(clientId: string): Promise<string | undefined> {
  const connections = new RedisConnections(redisConfig());
  connections.get('commands', { maxRetriesPerRequest: 1 }); // a one-shot: fails at once without Redis
  const heard = await apiKeyChanges(connections).publish(clientId, 3000);
  connections.onApplicationShutdown();
  return heard
    ? undefined
    : 'Redis did not answer: API processes may honour the old key for up to a minute';
}

async function run(argv: string[]): Promise<Outcome> {
  const [command, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: Object.fromEntries(
      ['name', 'time-zone', 'client-id', 'grace-hours', 'count', 'start-date', 'end-date'].map(
        (name) => [name, { type: 'string' as const }],
      ),
    ),
    strict: true,
  });
  if (command !== 'migrate' && !COMMANDS[command]) {
    throw new UsageError(command ? `unknown command ${command}` : 'a command is required');
  }
  const dataSource = await new DataSource(
    dataSourceOptions(environment().DATABASE_URL),
  ).initialize();
  try {
    const applied = await runMigrations(dataSource);
    if (command === 'migrate') return { result: { applied } };
    return await COMMANDS[command](dataSource, values as Values);
  } finally {
    await dataSource.destroy();
  }
}

// A command is one trace (when tracing is on), flushed before the process ends.
inSpan(`cli ${process.argv[2] ?? ''}`.trim(), {}, () => run(process.argv.slice(2)))
  .finally(shutdownTracing)
  .then(({ result, warning, error }) => {
    process.stdout.write(`${JSON.stringify(result)}\n`);
    if (warning) process.stderr.write(`warning: ${warning}\n`);
    if (error) {
      process.stderr.write(`error: ${error}\n`);
      process.exit(1);
    }
  })
  .catch((error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    const usage =
      error instanceof UsageError ||
      Boolean((error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS'));
    process.stderr.write(usage ? `${message}\n${USAGE}\n` : `error: ${message}\n`);
    process.exit(usage ? 2 : 1);
  });
