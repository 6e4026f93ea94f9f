// Makes sure a demo client with a few hundred orders exists, then prints its API key and how to try it.
// Run after scripts/setup.sh, through scripts/with-env.sh (npm run local does both).
// The API key is shown only once by the CLI, so the client is kept in .local/demo-client.json (mode 600)
// together with the DATABASE_URL it was created for, and reused while it still exists in that database.
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');

const ROOT = path.resolve(__dirname, '..');
const STATE_FILE = path.join(ROOT, '.local', 'demo-client.json');
const CLI = path.join(ROOT, 'dist', 'cli.js');
const DATABASE_URL = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/reports';
const PORT = process.env.PORT || '3000';
const NAME = 'Demo Shop';
const COUNT = 300;
const DAYS = 90;

function cli(...args) {
  const res = spawnSync(process.execPath, [CLI, ...args], { cwd: ROOT, encoding: 'utf8' });
  if (res.status !== 0) {
    console.error(`demo: node dist/cli.js ${args.join(' ')} failed (exit ${res.status})`);
    if (res.stderr) console.error(res.stderr.trim());
    process.exit(1);
  }
  try {
    return JSON.parse(res.stdout);
  } catch {
    console.error(`demo: node dist/cli.js ${args[0]} did not print JSON: ${res.stdout.trim()}`);
    process.exit(1);
  }
}

function isoDate(date) {
  return date.toISOString().slice(0, 10);
}

function readState() {
  try {
    const state = JSON.parse(fs.readFileSync(STATE_FILE, 'utf8'));
    return state && state.client && state.client.id && state.client.api_key ? state : null;
  } catch {
    return null;
  }
}

async function clientExists(id) {
  const { Client } = require('pg');
  const db = new Client({ connectionString: DATABASE_URL, connectionTimeoutMillis: 5000 });
  try {
    await db.connect();
    const { rowCount } = await db.query('SELECT 1 FROM clients WHERE id = $1', [id]);
    return rowCount > 0;
  } catch (err) {
    console.error(
      `demo: could not look up the saved demo client (${err.message}); creating a new one`,
    );
    return false;
  } finally {
    await db.end().catch(() => {});
  }
}

async function main() {
  if (!fs.existsSync(CLI)) {
    console.error('demo: dist/cli.js is missing; run `bash scripts/setup.sh` (it builds) first');
    process.exit(1);
  }

  let state = readState();
  if (state && (state.database_url !== DATABASE_URL || !(await clientExists(state.client.id)))) {
    state = null;
  }

  if (!state) {
    // Save the key at once: the CLI shows it only this time.
    state = {
      database_url: DATABASE_URL,
      client: cli('clients:create', '--name', NAME),
      seeded: null,
    };
    writeState(state);
  }
  if (!state.seeded) {
    const end = new Date();
    const start = new Date(end.getTime() - (DAYS - 1) * 24 * 3600 * 1000);
    const range = { start_date: isoDate(start), end_date: isoDate(end) };
    const { inserted } = cli(
      'orders:seed',
      '--client-id',
      String(state.client.id),
      '--count',
      String(COUNT),
      '--start-date',
      range.start_date,
      '--end-date',
      range.end_date,
    );
    state.seeded = { count: inserted, ...range };
    writeState(state);
  }

  const { client, seeded } = state;
  const base = `http://localhost:${PORT}`;
  const body = JSON.stringify({ start_date: seeded.start_date, end_date: seeded.end_date });
  console.log(
    [
      '',
      `Demo client "${client.name}" (${seeded.count} orders, ${seeded.start_date} to ${seeded.end_date})`,
      `  API key:  ${client.api_key}`,
      `  Swagger:  ${base}/docs   (Authorize → paste the key)`,
      `  Try:      curl -i -X POST ${base}/v1/orders/reports -H "Authorization: Bearer ${client.api_key}" ` +
        `-H 'Content-Type: application/json' -d '${body}'`,
      `  (kept in ${path.relative(ROOT, STATE_FILE)}; delete it to create a new demo client)`,
      '',
    ].join('\n'),
  );
}

function writeState(state) {
  fs.mkdirSync(path.dirname(STATE_FILE), { recursive: true });
  fs.writeFileSync(STATE_FILE, JSON.stringify(state, null, 2) + '\n', { mode: 0o600 });
  fs.chmodSync(STATE_FILE, 0o600);
}

main().catch((err) => {
  console.error(`demo: ${err.stack || err}`);
  process.exit(1);
});
