import { Logger } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { Client as PgClient } from 'pg';
import { keyId } from '../../src/common/encryption';
import { cli, document } from '../support/cli';
import { databaseBeside, ownDatabase, testEnvironment } from '../support/env';
import { call, startApp, TestApp } from '../support/harness';
import { eventually, Receiver } from '../support/receiver';

const ok = async (test: TestApp, key: string) =>
  (await call(test, 'GET', '/v1/orders', { key })).status;

describe('API keys that rotate and can be revoked, webhook secrets under keys that rotate', () => {
  let first: TestApp;
  let second: TestApp;

  beforeAll(async () => {
    first = await startApp({ APP_ROLE: 'api' });
    second = await startApp({ APP_ROLE: 'api' });
  });
  afterAll(async () => {
    await first.close();
    await second.close();
  });

  const created = async (name: string, env: Record<string, string> = {}) =>
    document(await cli(['clients:create', '--name', name], env)) as {
      id: string;
      api_key: string;
      webhook_secret: string;
    };

  it('keeps a rotated-out key working during its grace period, then refuses it', async () => {
    const client = await created('Rotating');
    expect(await ok(first, client.api_key)).toBe(200);
    const run = await cli(['clients:rotate-key', '--client-id', client.id, '--grace-hours', '1']);
    expect(run.code).toBe(0);
    const rotated = document(run) as { id: string; api_key: string };
    expect(rotated.id).toBe(client.id);
    expect(rotated.api_key).toMatch(/^rk_[A-Za-z0-9_-]{43}$/);
    expect(rotated.api_key).not.toBe(client.api_key);
    expect(await ok(first, client.api_key)).toBe(200);
    expect(await ok(first, rotated.api_key)).toBe(200);
    // The hour is over: a process that has not seen the old key refuses it, the new one works.
    await first.dataSource.query(
      `UPDATE clients SET previous_api_key_expires_at = now() - interval '1 second' WHERE id = $1`,
      [client.id],
    );
    expect(await ok(second, client.api_key)).toBe(401);
    expect(await ok(second, rotated.api_key)).toBe(200);
    // With no grace, the old key stops at once, on every process.
    const again = document(
      await cli(['clients:rotate-key', '--client-id', client.id, '--grace-hours', '0']),
    ) as { api_key: string };
    await eventually(async () => (await ok(first, rotated.api_key)) === 401, 10);
    expect(await ok(first, again.api_key)).toBe(200);
  });

  it('refuses a revoked key on every API process, each of which had it in memory', async () => {
    const client = await created('Revoked');
    expect(await ok(first, client.api_key)).toBe(200);
    expect(await ok(second, client.api_key)).toBe(200);
    const run = await cli(['clients:revoke-key', '--client-id', client.id]);
    expect(run.code).toBe(0);
    expect(run.stderr).toBe('');
    expect(document(run)).toEqual({ id: client.id, revoked: true });
    // Each process forgets it on the Redis message: well before its minute in memory is over.
    await eventually(
      async () =>
        (await ok(first, client.api_key)) === 401 && (await ok(second, client.api_key)) === 401,
      10,
    );
    // A rotation gives the client a key again.
    const fresh = document(await cli(['clients:rotate-key', '--client-id', client.id])) as {
      api_key: string;
    };
    expect(await ok(second, fresh.api_key)).toBe(200);
    expect(await ok(second, client.api_key)).toBe(401);
  });

  it('lists the clients with their key state, never a key, a hash or a secret', async () => {
    const client = await created('Listed');
    await cli(['clients:revoke-key', '--client-id', client.id]);
    const run = await cli(['clients:list']);
    expect(run.code).toBe(0);
    expect(run.stdout).not.toContain(client.api_key);
    expect(run.stdout).not.toMatch(/rk_|whsec_|v2:|api_key|hash/);
    const listed = (JSON.parse(run.stdout) as Array<Record<string, unknown>>).find(
      (entry) => entry.id === client.id,
    );
    expect(listed).toEqual({
      id: client.id,
      name: 'Listed',
      time_zone: 'UTC',
      created_at: expect.any(String),
      key: { state: 'revoked', since: expect.any(String), previous_key_expires_at: null },
    });
  });

  it('refuses a wrong client id or grace period with its usage', async () => {
    for (const args of [
      ['clients:rotate-key', '--client-id', '00000000-0000-4000-8000-000000000000'],
      ['clients:revoke-key'],
      ['clients:rotate-key', '--client-id', (await created('Grace')).id, '--grace-hours', '-1'],
    ]) {
      const run = await cli(args);
      expect(run.code).toBe(2);
      expect(run.stdout).toBe('');
      expect(run.stderr).toContain('usage:');
    }
  });

  describe('webhook secrets', () => {
    let receiver: Receiver;
    const suiteKey = testEnvironment().WEBHOOK_SECRETS_KEY;
    const oldKey = randomBytes(32).toString('base64url');
    // A database of their own: secrets:reencrypt reads every client's, and other specs leave some
    // that no key decrypts on purpose.
    const own = { DATABASE_URL: databaseBeside('secrets') };

    beforeAll(async () => {
      await ownDatabase('secrets', false);
      receiver = await new Receiver().start();
    });
    afterAll(() => receiver.stop());

    /** A report with a callback, rendered and delivered by `test`: the delivery received. */
    const delivered = async (test: TestApp, key: string, path: string) => {
      const accepted = await call(test, 'POST', '/v1/orders/reports', {
        key,
        json: {
          start_date: '2048-01-01',
          end_date: '2048-01-02',
          callback_url: receiver.script(path, { status: 200 }),
        },
      });
      expect(accepted.status).toBe(202);
      const [delivery] = await eventually(
        async () => receiver.at(path).length > 0 && receiver.at(path),
        60,
      );
      return delivery;
    };
    const callbacks = { CALLBACK_ALLOW_PRIVATE_NETWORKS: 'true', ...own };
    /** The delivery verifies under the client's webhook secret (Standard Webhooks). */
    const signedWith = (delivery: Awaited<ReturnType<typeof delivered>>, secret: string) =>
      expect(() =>
        new Webhook(secret).verify(delivery.body, delivery.headers as Record<string, string>),
      ).not.toThrow();

    it('reads secrets written under the previous key during a rotation, and after secrets:reencrypt under the current key alone', async () => {
      // Created when WEBHOOK_SECRETS_KEY was another key.
      const client = await created('Old key', { WEBHOOK_SECRETS_KEY: oldKey, ...own });
      const rotating = await startApp({ ...callbacks, WEBHOOK_SECRETS_KEY_PREVIOUS: oldKey });
      try {
        signedWith(await delivered(rotating, client.api_key, '/old-key'), client.webhook_secret);
      } finally {
        await rotating.close();
      }

      const run = await cli(['secrets:reencrypt'], {
        WEBHOOK_SECRETS_KEY_PREVIOUS: oldKey,
        ...own,
      });
      expect(run.code).toBe(0);
      expect(document(run)).toEqual({ reencrypted: 1 });
      const pg = new PgClient({ connectionString: own.DATABASE_URL });
      await pg.connect();
      const { rows } = await pg.query(`SELECT webhook_secret AS value FROM clients WHERE id = $1`, [
        client.id,
      ]);
      await pg.end();
      expect(rows[0].value.startsWith(`v2:${keyId(Buffer.from(suiteKey, 'base64'))}:`)).toBe(true);
      expect(document(await cli(['secrets:reencrypt'], own))).toEqual({ reencrypted: 0 });

      const current = await startApp(callbacks); // WEBHOOK_SECRETS_KEY only
      try {
        signedWith(await delivered(current, client.api_key, '/reencrypted'), client.webhook_secret);
      } finally {
        await current.close();
      }
    });

    it("does not sign with a secret copied from another client's row: reported, not crashed on", async () => {
      const victim = await created('Victim', own);
      const thief = await created('Thief', own);
      const pg = new PgClient({ connectionString: own.DATABASE_URL });
      await pg.connect();
      await pg.query(
        `UPDATE clients SET webhook_secret = (SELECT webhook_secret FROM clients WHERE id = $1)
          WHERE id = $2`,
        [victim.id, thief.id],
      );
      await pg.end();
      const warnings = jest.spyOn(Logger.prototype, 'warn');
      const app = await startApp(callbacks);
      try {
        const accepted = await call(app, 'POST', '/v1/orders/reports', {
          key: thief.api_key,
          json: {
            start_date: '2048-02-01',
            end_date: '2048-02-02',
            callback_url: receiver.script('/stolen', { status: 200 }),
          },
        });
        const attempts = await eventually(async () => {
          const answer = await call(
            app,
            'GET',
            `/v1/orders/reports/${accepted.body.id}/callbacks`,
            {
              key: thief.api_key,
            },
          );
          return answer.body.data.length > 0 && answer.body.data;
        }, 60);
        expect(attempts[0].error).toMatch(/^no usable webhook secret/);
        expect(receiver.at('/stolen')).toHaveLength(0);
        const messages = warnings.mock.calls.map(([message]) => String(message));
        expect(
          messages.some((m) =>
            m.includes(`Client ${thief.id}: its webhook_secret does not decrypt`),
          ),
        ).toBe(true);
        expect((await call(app, 'GET', '/health')).status).toBe(200);
        // Rotating is the way out: the unreadable secret is replaced, not kept for an overlap.
        const rotated = await call(app, 'POST', '/v1/webhook-secret/rotate', {
          key: thief.api_key,
        });
        expect(rotated.status).toBe(200);
        expect(rotated.body.webhook_secret).toMatch(/^whsec_/);
        signedWith(await delivered(app, thief.api_key, '/rotated'), rotated.body.webhook_secret);
      } finally {
        warnings.mockRestore();
        await app.close();
      }
    });
  });
});
