import { Logger } from '@nestjs/common';
import { createPrivateKey, createPublicKey, randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { Client as PgClient } from 'pg';
import { decryptSecret, keyId, parseEncryptionKey } from '../../src/common/encryption';
import { cli, document } from '../support/cli';
import { databaseBeside, ownDatabase, testEnvironment } from '../support/env';
import { call, startApp, TestApp } from '../support/harness';
import { eventually, Receiver } from '../support/receiver';
import { signingKeys, v1aSignatures, v1aVerifies } from '../support/v1a';

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

  it('makes a signing key with each client, and one first key, however many processes ask at once, for a client from before signing keys', async () => {
    const client = await created('Signing');
    const rows = () =>
      first.dataSource.query<Array<{ id: string }>>(
        `SELECT id FROM webhook_signing_keys WHERE client_id = $1`,
        [client.id],
      );
    const [made] = await rows();
    expect(made).toBeDefined();
    expect(await signingKeys(second, client.api_key)).toEqual([
      expect.objectContaining({ id: made.id, expires_at: null }),
    ]);

    await first.dataSource.query(`DELETE FROM webhook_signing_keys WHERE client_id = $1`, [
      client.id,
    ]);
    const lists = await Promise.all(
      [first, second, first, second, first, second].map((app) => signingKeys(app, client.api_key)),
    );
    expect(await rows()).toHaveLength(1);
    for (const list of lists) expect(list).toEqual(lists[0]);
    expect(lists[0]).toHaveLength(1);
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
      let listed: Awaited<ReturnType<typeof signingKeys>>;
      try {
        const delivery = await delivered(rotating, client.api_key, '/old-key');
        signedWith(delivery, client.webhook_secret);
        listed = await signingKeys(rotating, client.api_key);
        expect(v1aVerifies(delivery, listed[0].public_key)).toBe(true);
      } finally {
        await rotating.close();
      }

      const run = await cli(['secrets:reencrypt'], {
        WEBHOOK_SECRETS_KEY_PREVIOUS: oldKey,
        ...own,
      });
      expect(run.code).toBe(0);
      // The webhook secret and the private signing key.
      expect(document(run)).toEqual({ reencrypted: 2 });
      const pg = new PgClient({ connectionString: own.DATABASE_URL });
      await pg.connect();
      const { rows } = await pg.query(
        `SELECT webhook_secret AS value FROM clients WHERE id = $1
         UNION ALL SELECT private_key FROM webhook_signing_keys WHERE client_id = $1`,
        [client.id],
      );
      await pg.end();
      expect(rows).toHaveLength(2);
      for (const { value } of rows) {
        expect(value.startsWith(`v2:${keyId(Buffer.from(suiteKey, 'base64'))}:`)).toBe(true);
      }
      expect(document(await cli(['secrets:reencrypt'], own))).toEqual({ reencrypted: 0 });

      const current = await startApp(callbacks); // WEBHOOK_SECRETS_KEY only
      try {
        const delivery = await delivered(current, client.api_key, '/reencrypted');
        signedWith(delivery, client.webhook_secret);
        expect(await signingKeys(current, client.api_key)).toEqual(listed);
        expect(v1aSignatures(delivery)).toHaveLength(1);
        expect(v1aVerifies(delivery, listed[0].public_key)).toBe(true);
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

    it('keeps each private signing key encrypted in Postgres, bound to its client and key: a copy in another row does not sign, and a rotation replaces it at once', async () => {
      const victim = await created('Key victim', own);
      const thief = await created('Key thief', own);
      const pg = new PgClient({ connectionString: own.DATABASE_URL });
      await pg.connect();
      const keyRow = async (clientId: string) =>
        (
          await pg.query<{ id: string; public_key: Buffer; private_key: string }>(
            `SELECT id, public_key, private_key FROM webhook_signing_keys WHERE client_id = $1`,
            [clientId],
          )
        ).rows;
      const [stored] = await keyRow(victim.id);
      // What the service decrypts with its key, in the row's own place, is the private half of the
      // stored public key; none of its bytes are in the table in any usual encoding.
      const context = `webhook_signing_keys:${victim.id}:${stored.id}:private_key`;
      const pkcs8 = Buffer.from(
        decryptSecret(stored.private_key, { current: parseEncryptionKey(suiteKey) }, context)
          .secret,
        'base64',
      );
      const privateKey = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
      expect(privateKey.asymmetricKeyType).toBe('ed25519');
      const publicJwk = createPublicKey(privateKey).export({ format: 'jwk' });
      expect(Buffer.from(publicJwk.x!, 'base64url').equals(stored.public_key)).toBe(true);
      const seed = Buffer.from(privateKey.export({ format: 'jwk' }).d!, 'base64url');
      const table = JSON.stringify(
        (await pg.query(`SELECT * FROM webhook_signing_keys`)).rows.map((row) => ({
          ...row,
          public_key: row.public_key.toString('hex'),
        })),
      );
      for (const encoding of ['hex', 'base64', 'base64url'] as const) {
        expect(table).not.toContain(seed.toString(encoding).replace(/=+$/, ''));
        expect(table).not.toContain(pkcs8.toString(encoding).replace(/=+$/, ''));
      }
      expect(stored.private_key).toMatch(/^v2:[0-9a-f]{8}:[A-Za-z0-9_-]+$/);

      await pg.query(`UPDATE webhook_signing_keys SET private_key = $1 WHERE client_id = $2`, [
        stored.private_key,
        thief.id,
      ]);
      await pg.end();
      const warnings = jest.spyOn(Logger.prototype, 'warn');
      const app = await startApp(callbacks);
      try {
        const [copied] = await signingKeys(app, thief.api_key);
        const delivery = await delivered(app, thief.api_key, '/copied-key');
        // Still signed with the webhook secret; no v1a signature from a key it cannot read.
        signedWith(delivery, thief.webhook_secret);
        expect(v1aSignatures(delivery)).toEqual([]);
        const messages = warnings.mock.calls.map(([message]) => String(message));
        expect(
          messages.some((m) =>
            m.includes(`Client ${thief.id}: its signing key ${copied.id} does not decrypt`),
          ),
        ).toBe(true);
        expect(messages.join('\n')).not.toContain(pkcs8.toString('base64'));

        const rotated = await call(app, 'POST', '/v1/webhook-signing-keys/rotate', {
          key: thief.api_key,
        });
        expect(rotated.status).toBe(200);
        expect(rotated.body.data).toHaveLength(1);
        expect(rotated.body.data[0].id).not.toBe(copied.id);
        const after = await delivered(app, thief.api_key, '/new-key');
        expect(v1aSignatures(after)).toHaveLength(1);
        expect(v1aVerifies(after, rotated.body.data[0].public_key)).toBe(true);
      } finally {
        warnings.mockRestore();
        await app.close();
      }
    });
  });
});
