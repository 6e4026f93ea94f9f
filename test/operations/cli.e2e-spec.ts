import { Client as PgClient } from 'pg';
import { createDatabaseIfMissing } from '../../src/database/migrate';
import { cli, document } from '../support/cli';
import { testEnvironment } from '../support/env';

describe('Admin CLI: one JSON document on stdout, errors on stderr with a non-zero exit code', () => {
  it('migrates, creates a client and seeds its orders', async () => {
    const migrated = await cli(['migrate']);
    expect(migrated).toMatchObject({ code: 0, stderr: '' });
    expect(document(migrated)).toEqual({ applied: expect.any(Array) });

    const created = await cli(['clients:create', '--name', 'CLI Shop']);
    expect(created).toMatchObject({ code: 0, stderr: '' });
    const client = document(created);
    expect(Object.keys(client).sort()).toEqual([
      'api_key',
      'id',
      'name',
      'time_zone',
      'webhook_secret',
    ]);
    expect(client.time_zone).toBe('UTC');
    expect(client.name).toBe('CLI Shop');
    expect(client.webhook_secret).toMatch(/^whsec_/);

    const seeded = await cli([
      'orders:seed',
      '--client-id',
      String(client.id),
      '--count',
      '5',
      '--start-date',
      '2021-10-01',
      '--end-date',
      '2021-11-01',
    ]);
    expect(seeded).toMatchObject({ code: 0, stderr: '' });
    expect(document(seeded)).toEqual({ inserted: 5 });
  });

  it('answers a wrong command line with its usage on stderr and nothing on stdout', async () => {
    for (const args of [
      ['export'],
      ['clients:create'],
      ['orders:seed', '--client-id', '00000000-0000-4000-8000-000000000000', '--count', '1'],
    ]) {
      const run = await cli(args);
      expect(run.code).toBe(2);
      expect(run.stdout).toBe('');
      expect(run.stderr).toContain('usage:');
    }
  });

  it('keeps stdout empty when a migration fails: the error goes to stderr alone', async () => {
    // A database where the first migration cannot run: its table is already there.
    const url = new URL(testEnvironment().DATABASE_URL);
    url.pathname = `${url.pathname}_cli_conflict`;
    await createDatabaseIfMissing(url.toString());
    const pg = new PgClient({ connectionString: url.toString() });
    await pg.connect();
    try {
      await pg.query(
        'DROP SCHEMA public CASCADE; CREATE SCHEMA public; CREATE TABLE clients (x int)',
      );
      const run = await cli(['migrate'], { DATABASE_URL: url.toString() });
      expect(run.code).toBe(1);
      expect(run.stdout).toBe('');
      expect(run.stderr).toMatch(/^error: .*clients/);
    } finally {
      await pg.end();
      const admin = new PgClient({ connectionString: testEnvironment().DATABASE_URL });
      await admin.connect();
      await admin.query(`DROP DATABASE IF EXISTS "${url.pathname.slice(1)}" WITH (FORCE)`);
      await admin.end();
    }
  });
});
