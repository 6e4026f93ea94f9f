// Connectivity probes for scripts/setup.sh. Exit 0 when fine, 1 otherwise, with one short line.
//   node scripts/probe.js postgres URL   the server answers (via its `postgres` maintenance database)
//   node scripts/probe.js redis URL      the server answers PING
//   node scripts/probe.js createdb URL   creates the URL's database and `<name>_test` when missing
const { URL } = require('url');
const { setTimeout } = require('timers');

const TIMEOUT_MS = 3000;

function databaseName(url) {
  const u = new URL(url);
  return (
    decodeURIComponent(u.pathname.replace(/^\//, '')) ||
    decodeURIComponent(u.username) ||
    'postgres'
  );
}

async function withMaintenanceDb(url, fn) {
  const { Client } = require('pg');
  const u = new URL(url);
  u.pathname = '/postgres';
  const client = new Client({
    connectionString: u.toString(),
    connectionTimeoutMillis: TIMEOUT_MS,
  });
  client.on('error', () => {});
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

const probes = {
  async postgres(url) {
    const version = await withMaintenanceDb(
      url,
      async (c) => (await c.query('SHOW server_version')).rows[0],
    );
    return `postgres ${version.server_version} answers`;
  },

  async redis(url) {
    const Redis = require('ioredis');
    const redis = new Redis(url, {
      lazyConnect: true,
      connectTimeout: TIMEOUT_MS,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      retryStrategy: () => null,
    });
    let lastError;
    redis.on('error', (err) => (lastError = err));
    try {
      await redis.connect().catch((err) => {
        throw lastError || err;
      });
      const pong = await redis.ping();
      if (pong !== 'PONG') throw new Error(`unexpected PING answer ${pong}`);
      return 'redis answers PING';
    } finally {
      redis.disconnect();
    }
  },

  async createdb(url) {
    const name = databaseName(url);
    return withMaintenanceDb(url, async (c) => {
      const done = [];
      for (const db of [name, `${name}_test`]) {
        const { rowCount } = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [db]);
        if (rowCount) continue;
        try {
          await c.query(`CREATE DATABASE "${db.replace(/"/g, '""')}"`);
          done.push(`created ${db}`);
        } catch (err) {
          // 42P04 duplicate_database / 23505: another process created it in the meantime.
          if (err.code !== '42P04' && err.code !== '23505') throw err;
        }
      }
      return done.length ? done.join(', ') : `${name} and ${name}_test exist`;
    });
  },
};

async function main() {
  const [kind, url] = process.argv.slice(2);
  if (!probes[kind] || !url) {
    console.error('usage: node scripts/probe.js postgres|redis|createdb URL');
    process.exit(2);
  }
  // Never hang: a probe that takes longer than this is a failed probe.
  setTimeout(() => {
    console.log(`${kind}: no answer from ${redact(url)} within ${2 * TIMEOUT_MS} ms`);
    process.exit(1);
  }, 2 * TIMEOUT_MS).unref();
  try {
    console.log(await probes[kind](url));
    process.exit(0);
  } catch (err) {
    console.log(`${kind}: ${redact(url)}: ${err.message || err.code || err}`);
    process.exit(1);
  }
}

function redact(url) {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(invalid URL)';
  }
}

main();
