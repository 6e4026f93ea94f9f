import { getQueueToken } from '@nestjs/bull';
import type { Queue } from 'bull';
import { Webhook } from 'standardwebhooks';
import { addJob, renderJob } from '../../src/common/jobs';
import { call, newClient, order, pollUntilDone, startApp, TestApp } from '../support/harness';
import { createServer } from 'node:net';
import { AddressInfo } from 'node:net';
import { eventually, Receiver } from '../support/receiver';
import { signingKeys, v1aSignatures, v1aVerifies } from '../support/v1a';

/** A loopback port nothing listens on (bound, then closed). */
async function unusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const PUBLIC_BASE_URL = 'https://reports.example';

describe('Recipe 2: signed callbacks to a real receiver on loopback', () => {
  let test: TestApp;
  let receiver: Receiver;
  let shop: { id: string; api_key: string; webhook_secret: string };
  let day = 0;

  beforeAll(async () => {
    receiver = await new Receiver().start();
    test = await startApp({
      CALLBACK_ALLOW_PRIVATE_NETWORKS: 'true',
      CALLBACK_RETRY_DELAYS_MS: '300,300,300',
      CALLBACK_TIMEOUT_MS: '1000',
      PUBLIC_BASE_URL,
      REPORT_MAX_ORDERS: '2',
    });
    shop = await newClient(test);
  });
  afterAll(async () => {
    await test.close();
    await receiver.stop();
  });

  /** An empty period of its own for each report, so that each renders quickly. */
  async function requestReport(callbackUrl: string) {
    day += 1;
    const start = new Date(Date.UTC(2040, 0, day)).toISOString().slice(0, 10);
    const end = new Date(Date.UTC(2040, 0, day + 1)).toISOString().slice(0, 10);
    const accepted = await call(test, 'POST', '/v1/orders/reports', {
      key: shop.api_key,
      json: { start_date: start, end_date: end, callback_url: callbackUrl },
    });
    expect(accepted.status).toBe(202);
    return accepted.body.id as string;
  }

  const attemptsOf = async (id: string) =>
    (await call(test, 'GET', `/v1/orders/reports/${id}/callbacks`, { key: shop.api_key })).body
      .data as Array<{
      attempt: number;
      status_code: number | null;
      error: string | null;
      duration_ms: number;
      at: string;
    }>;

  const callbackStatus = async (id: string) =>
    (await call(test, 'GET', `/v1/orders/reports/status/${id}`, { key: shop.api_key })).body
      .callback;

  it('says, on the status route, that the callback is PENDING with no attempt before the report ends', async () => {
    // Written without a job: no worker can finish it while it is read.
    const [{ id }] = await test.dataSource.query<{ id: string }[]>(
      `INSERT INTO reports (client_id, start_date, end_date, callback_url)
       VALUES ($1, '2041-01-01', '2041-01-02', 'https://partner.example/cb') RETURNING id`,
      [shop.id],
    );
    try {
      const answer = await call(test, 'GET', `/v1/orders/reports/status/${id}`, {
        key: shop.api_key,
      });
      expect(answer.status).toBe(200);
      expect(answer.body).toMatchObject({
        id,
        status: 'PENDING',
        callback: { status: 'PENDING', attempts: 0 },
      });
    } finally {
      await test.dataSource.query(`DELETE FROM reports WHERE id = $1`, [id]);
    }
  });

  it('POSTs a completed report, signed so that the standardwebhooks library verifies it', async () => {
    const url = receiver.script('/completed', { status: 204 });
    const id = await requestReport(url);
    const [delivery] = await eventually(
      async () => receiver.at('/completed').length > 0 && receiver.at('/completed'),
    );

    const payload = new Webhook(shop.webhook_secret).verify(
      delivery.body,
      delivery.headers as Record<string, string>,
    );
    // The PDF's own figures: test/reports/pdf-digest checks them against the download.
    expect(payload).toEqual({
      id,
      status: 'COMPLETED',
      pdf: { bytes: expect.any(Number), pages: 1, sha256: expect.stringMatching(/^[0-9a-f]{64}$/) },
      links: [{ rel: 'reports', href: `${PUBLIC_BASE_URL}/v1/orders/reports/${id}` }],
    });
    expect(delivery.headers['webhook-id']).toMatch(/^msg_[0-9a-f]{32}$/);
    expect(delivery.headers['content-type']).toBe('application/json');
    expect(delivery.headers['user-agent']).toMatch(/^orders-reports-callbacks\//);
    expect(() =>
      new Webhook(Buffer.alloc(32, 9).toString('base64')).verify(
        delivery.body,
        delivery.headers as Record<string, string>,
      ),
    ).toThrow();

    await eventually(async () => (await callbackStatus(id))?.status === 'DELIVERED');
    expect(await callbackStatus(id)).toEqual({ status: 'DELIVERED', attempts: 1 });
    const [attempt] = await attemptsOf(id);
    expect(attempt).toEqual({
      attempt: 1,
      at: expect.any(String),
      status_code: 204,
      duration_ms: expect.any(Number),
      error: null,
    });
  });

  it("signs it with the client's own ed25519 key too (v1a): crypto.verify accepts it with the listed public key, and refuses a tampered body or another client's key", async () => {
    const [key] = await signingKeys(test, shop.api_key);
    expect(key).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      public_key: expect.stringMatching(/^whpk_[A-Za-z0-9+/]{43}=$/),
      since: expect.any(String),
      expires_at: null,
    });
    expect(Buffer.from(key.public_key.slice('whpk_'.length), 'base64')).toHaveLength(32);
    expect(await signingKeys(test, shop.api_key)).toEqual([key]);

    const url = receiver.script('/v1a', { status: 204 });
    const id = await requestReport(url);
    const [delivery] = await eventually(
      async () => receiver.at('/v1a').length > 0 && receiver.at('/v1a'),
    );
    const parts = String(delivery.headers['webhook-signature']).split(' ');
    // v1 first, as before, then v1a.
    expect(parts.map((part) => part.split(',')[0])).toEqual(['v1', 'v1a']);
    expect(v1aSignatures(delivery)[0]).toHaveLength(64);
    expect(v1aVerifies(delivery, key.public_key)).toBe(true);
    expect(JSON.parse(delivery.body).id).toBe(id);
    const tampered = delivery.body.replace('COMPLETED', 'FAILED');
    expect(tampered).not.toBe(delivery.body);
    expect(v1aVerifies(delivery, key.public_key, tampered)).toBe(false);
    expect(
      v1aVerifies(
        { ...delivery, headers: { ...delivery.headers, 'webhook-id': 'msg_0' } },
        key.public_key,
      ),
    ).toBe(false);
    // The v1 part is unchanged: the standardwebhooks library verifies the same delivery.
    expect(() =>
      new Webhook(shop.webhook_secret).verify(
        delivery.body,
        delivery.headers as Record<string, string>,
      ),
    ).not.toThrow();

    const other = await newClient(test, 'Other Keys Shop');
    const [otherKey] = await signingKeys(test, other.api_key);
    expect(otherKey.public_key).not.toBe(key.public_key);
    expect(otherKey.id).not.toBe(key.id);
    expect(v1aVerifies(delivery, otherKey.public_key)).toBe(false);
    // Each client sees its own keys only.
    expect(await signingKeys(test, shop.api_key)).toEqual([key]);
    const anonymous = await call(test, 'GET', '/v1/webhook-signing-keys');
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.error_code).toBe('UNAUTHORIZED');
  });

  it('gives a client from before signing keys its first key on first use, and signs its callbacks with it', async () => {
    const older = await newClient(test, 'Older Shop');
    await test.dataSource.query(`DELETE FROM webhook_signing_keys WHERE client_id = $1`, [
      older.id,
    ]);
    const url = receiver.script('/first-use', { status: 200 });
    const accepted = await call(test, 'POST', '/v1/orders/reports', {
      key: older.api_key,
      json: { start_date: '2041-02-01', end_date: '2041-02-02', callback_url: url },
    });
    expect(accepted.status).toBe(202);
    const [delivery] = await eventually(
      async () => receiver.at('/first-use').length > 0 && receiver.at('/first-use'),
    );
    const keys = await signingKeys(test, older.api_key);
    expect(keys).toHaveLength(1);
    expect(v1aSignatures(delivery)).toHaveLength(1);
    expect(v1aVerifies(delivery, keys[0].public_key)).toBe(true);
  });

  it('POSTs a failed report with its error and a link to the status route', async () => {
    for (const [number, at] of [
      ['F-1', '2041-05-01T10:00:00Z'],
      ['F-2', '2041-05-01T11:00:00Z'],
      ['F-3', '2041-05-01T12:00:00Z'],
    ]) {
      await call(test, 'POST', '/v1/orders', { key: shop.api_key, json: order(number, at) });
    }
    // Accepted before the orders above arrived (at request time the period was small enough).
    const url = receiver.script('/failed', { status: 200 });
    const [{ id }] = await test.dataSource.query(
      `INSERT INTO reports (client_id, start_date, end_date, callback_url)
       VALUES ($1, '2041-05-01', '2041-05-02', $2) RETURNING id`,
      [shop.id, url],
    );
    await addJob(test.app.get<Queue>(getQueueToken('report-render')), renderJob(id, 3, 1));

    const [delivery] = await eventually(
      async () => receiver.at('/failed').length > 0 && receiver.at('/failed'),
    );
    expect(
      new Webhook(shop.webhook_secret).verify(
        delivery.body,
        delivery.headers as Record<string, string>,
      ),
    ).toEqual({
      id,
      status: 'FAILED',
      error: {
        error_code: 'REPORT_TOO_LARGE',
        error_message: 'The period holds 3 orders, more than the 2 a report may hold',
      },
      links: [{ rel: 'status', href: `${PUBLIC_BASE_URL}/v1/orders/reports/status/${id}` }],
    });
    const status = await pollUntilDone(test, shop.api_key, `/v1/orders/reports/status/${id}`);
    expect(status.body.status).toBe('FAILED');
  });

  it('retries a receiver that answers 500, 500, then 200: three attempts, one webhook-id, all recorded', async () => {
    const url = receiver.script('/flaky', { status: 500 }, { status: 500 }, { status: 200 });
    const id = await requestReport(url);
    await eventually(async () => (await callbackStatus(id))?.status === 'DELIVERED');
    const deliveries = receiver.at('/flaky');
    expect(deliveries).toHaveLength(3);
    expect(new Set(deliveries.map((d) => d.headers['webhook-id'])).size).toBe(1);
    expect(new Set(deliveries.map((d) => d.body)).size).toBe(1);
    for (const delivery of deliveries) {
      expect(() =>
        new Webhook(shop.webhook_secret).verify(
          delivery.body,
          delivery.headers as Record<string, string>,
        ),
      ).not.toThrow();
    }
    expect((await attemptsOf(id)).map((a) => [a.attempt, a.status_code, a.error])).toEqual([
      [1, 500, 'HTTP 500'],
      [2, 500, 'HTTP 500'],
      [3, 200, null],
    ]);
    expect(await callbackStatus(id)).toEqual({ status: 'DELIVERED', attempts: 3 });
  });

  it('stops at the first 410 Gone', async () => {
    const url = receiver.script('/gone', { status: 410 });
    const id = await requestReport(url);
    await eventually(async () => (await callbackStatus(id))?.status === 'GONE');
    await new Promise((resolve) => setTimeout(resolve, 1500)); // longer than every retry delay
    expect(receiver.at('/gone')).toHaveLength(1);
    expect((await attemptsOf(id)).map((a) => a.status_code)).toEqual([410]);
  });

  it('records a receiver that never answers as timed out, with no finer timing, retries it, and ends FAILED after the last attempt', async () => {
    const url = receiver.script('/silent', 'hang');
    const id = await requestReport(url);
    await eventually(async () => (await callbackStatus(id))?.status === 'FAILED', 60);
    const attempts = await attemptsOf(id);
    expect(attempts.map((a) => [a.attempt, a.status_code, a.error, a.duration_ms])).toEqual([
      [1, null, 'timed out', null],
      [2, null, 'timed out', null],
      [3, null, 'timed out', null],
      [4, null, 'timed out', null],
    ]);
  });

  it('gives only coarse classes in the attempts log: a refused connection is "connection failed", with no timing', async () => {
    // A port nothing listens on: the connection is refused at once.
    const closed = `http://127.0.0.1:${await unusedPort()}/nobody`;
    const id = await requestReport(closed);
    await eventually(async () => (await callbackStatus(id))?.status === 'FAILED', 60);
    const attempts = await attemptsOf(id);
    expect(attempts).toHaveLength(4);
    for (const attempt of attempts) {
      expect(attempt).toMatchObject({
        status_code: null,
        error: 'connection failed',
        duration_ms: null,
      });
    }
  });

  it('does not follow a redirect: a 302 is a failed attempt and its target hears nothing', async () => {
    const target = receiver.script('/redirect-target', { status: 200 });
    const url = receiver.script(
      '/redirect',
      { status: 302, headers: { location: target } },
      { status: 200 },
    );
    const id = await requestReport(url);
    await eventually(async () => (await callbackStatus(id))?.status === 'DELIVERED');
    expect((await attemptsOf(id)).map((a) => [a.status_code, a.error])).toEqual([
      [302, 'HTTP 302'],
      [200, null],
    ]);
    expect(receiver.at('/redirect-target')).toHaveLength(0);
  });

  it('waits longer when the receiver asks for it with Retry-After', async () => {
    const url = receiver.script(
      '/busy',
      { status: 429, headers: { 'retry-after': '2' } },
      { status: 200 },
    );
    const id = await requestReport(url);
    await eventually(async () => (await callbackStatus(id))?.status === 'DELIVERED');
    const [first, second] = await attemptsOf(id);
    expect(first.status_code).toBe(429);
    expect(Date.parse(second.at) - Date.parse(first.at)).toBeGreaterThanOrEqual(1900);
  });

  it('signs with the old and the new secret for a day after a rotation', async () => {
    const rotated = await call(test, 'POST', '/v1/webhook-secret/rotate', { key: shop.api_key });
    expect(rotated.status).toBe(200);
    expect(rotated.body.webhook_secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    const expires = Date.parse(rotated.body.previous_secret_expires_at) - Date.now();
    expect(expires).toBeGreaterThan(23.9 * 3600 * 1000);
    expect(expires).toBeLessThanOrEqual(24 * 3600 * 1000);

    const url = receiver.script('/rotated', { status: 200 });
    await requestReport(url);
    const [delivery] = await eventually(
      async () => receiver.at('/rotated').length > 0 && receiver.at('/rotated'),
    );
    const parts = String(delivery.headers['webhook-signature']).split(' ');
    expect(parts.filter((part) => part.startsWith('v1,'))).toHaveLength(2);
    const headers = delivery.headers as Record<string, string>;
    expect(() =>
      new Webhook(rotated.body.webhook_secret).verify(delivery.body, headers),
    ).not.toThrow();
    expect(() => new Webhook(shop.webhook_secret).verify(delivery.body, headers)).not.toThrow();
    shop.webhook_secret = rotated.body.webhook_secret;
  });

  it('signs with the old and the new key pair for a day after a rotation, lists both with their since, then the new one alone', async () => {
    const [before] = await signingKeys(test, shop.api_key);
    const rotated = await call(test, 'POST', '/v1/webhook-signing-keys/rotate', {
      key: shop.api_key,
    });
    expect(rotated.status).toBe(200);
    const [current, previous] = rotated.body.data as Awaited<ReturnType<typeof signingKeys>>;
    expect(rotated.body.data).toHaveLength(2);
    expect(current).toEqual({
      id: expect.any(String),
      public_key: expect.stringMatching(/^whpk_[A-Za-z0-9+/]{43}=$/),
      since: expect.any(String),
      expires_at: null,
    });
    expect(current.public_key).not.toBe(before.public_key);
    expect(previous).toEqual({ ...before, expires_at: expect.any(String) });
    expect(Date.parse(current.since)).toBeGreaterThanOrEqual(Date.parse(previous.since));
    const overlap = Date.parse(previous.expires_at!) - Date.now();
    expect(overlap).toBeGreaterThan(23.9 * 3600 * 1000);
    expect(overlap).toBeLessThanOrEqual(24 * 3600 * 1000);
    expect(await signingKeys(test, shop.api_key)).toEqual([current, previous]);

    const url = receiver.script('/key-rotated', { status: 200 });
    await requestReport(url);
    const [during] = await eventually(
      async () => receiver.at('/key-rotated').length > 0 && receiver.at('/key-rotated'),
    );
    expect(v1aSignatures(during)).toHaveLength(2);
    expect(v1aVerifies(during, current.public_key)).toBe(true);
    expect(v1aVerifies(during, previous.public_key)).toBe(true);
    expect(v1aVerifies(during, current.public_key, `${during.body} `)).toBe(false);
    expect(v1aVerifies(during, previous.public_key, `${during.body} `)).toBe(false);

    // The day is over.
    await test.dataSource.query(
      `UPDATE webhook_signing_keys SET expires_at = now() - interval '1 second'
        WHERE client_id = $1 AND expires_at IS NOT NULL`,
      [shop.id],
    );
    expect(await signingKeys(test, shop.api_key)).toEqual([current]);
    const after = receiver.script('/key-expired', { status: 200 });
    await requestReport(after);
    const [later] = await eventually(
      async () => receiver.at('/key-expired').length > 0 && receiver.at('/key-expired'),
    );
    expect(v1aSignatures(later)).toHaveLength(1);
    expect(v1aVerifies(later, current.public_key)).toBe(true);
    expect(v1aVerifies(later, previous.public_key)).toBe(false);

    // Rotating twice within a day: only the two newest keys sign.
    const first = await call(test, 'POST', '/v1/webhook-signing-keys/rotate', {
      key: shop.api_key,
    });
    const second = await call(test, 'POST', '/v1/webhook-signing-keys/rotate', {
      key: shop.api_key,
    });
    expect(second.status).toBe(200);
    const ids = (second.body.data as Array<{ id: string }>).map((key) => key.id);
    expect(ids).toEqual([expect.any(String), first.body.data[0].id]);
    expect(ids).not.toContain(current.id);
  });

  it('refuses a second redeliver of one event within a minute with 429 and Retry-After', async () => {
    const url = receiver.script('/twice', { status: 200 });
    const id = await requestReport(url);
    await eventually(async () => (await callbackStatus(id))?.status === 'DELIVERED');
    const redeliver = () =>
      call(test, 'POST', `/v1/orders/reports/${id}/callbacks/redeliver`, { key: shop.api_key });
    expect((await redeliver()).status).toBe(202);
    const again = await redeliver();
    expect(again.status).toBe(429);
    expect(again.body.error_code).toBe('RATE_LIMITED');
    const wait = Number(again.headers.get('retry-after'));
    expect(wait).toBeGreaterThanOrEqual(1);
    expect(wait).toBeLessThanOrEqual(60);
    await eventually(async () => receiver.at('/twice').length === 2);
    // Once the minute has passed, it may be sent again.
    await test.dataSource.query(
      `UPDATE callback_events SET redelivered_at = now() - interval '61 seconds' WHERE report_id = $1`,
      [id],
    );
    expect((await redeliver()).status).toBe(202);
  });

  it('redelivers a delivered event with the same webhook-id (202)', async () => {
    const url = receiver.script('/again', { status: 200 });
    const id = await requestReport(url);
    await eventually(async () => (await callbackStatus(id))?.status === 'DELIVERED');
    const redelivered = await call(test, 'POST', `/v1/orders/reports/${id}/callbacks/redeliver`, {
      key: shop.api_key,
    });
    expect(redelivered.status).toBe(202);
    await eventually(async () => receiver.at('/again').length === 2);
    const [first, second] = receiver.at('/again');
    expect(second.headers['webhook-id']).toBe(first.headers['webhook-id']);
    await eventually(async () => (await callbackStatus(id))?.attempts === 2);
    expect(await callbackStatus(id)).toEqual({ status: 'DELIVERED', attempts: 2 });
  });

  it('records attempts and ends FAILED when the webhook secret does not decrypt, sending nothing', async () => {
    const broken = await newClient(test, 'Broken Secret Shop');
    // As if WEBHOOK_SECRETS_KEY had changed since the secret was stored.
    await test.dataSource.query(`UPDATE clients SET webhook_secret = 'v1:AAAA' WHERE id = $1`, [
      broken.id,
    ]);
    const url = receiver.script('/unsigned', { status: 200 });
    const accepted = await call(test, 'POST', '/v1/orders/reports', {
      key: broken.api_key,
      json: { start_date: '2041-01-01', end_date: '2041-01-02', callback_url: url },
    });
    expect(accepted.status).toBe(202);
    const status = async () =>
      (
        await call(test, 'GET', `/v1/orders/reports/status/${accepted.body.id}`, {
          key: broken.api_key,
        })
      ).body.callback;
    await eventually(async () => (await status())?.status === 'FAILED');
    expect(await status()).toEqual({ status: 'FAILED', attempts: 4 });
    const attempts = await call(test, 'GET', `/v1/orders/reports/${accepted.body.id}/callbacks`, {
      key: broken.api_key,
    });
    expect(attempts.body.data[0].error).toMatch(/^no usable webhook secret/);
    expect(receiver.at('/unsigned')).toEqual([]);
  });

  it('redelivers at once an event whose next attempt waits for its retry', async () => {
    // The partner asks for a minute; a redeliver must not wait for it.
    const url = receiver.script(
      '/waiting',
      { status: 503, headers: { 'retry-after': '60' } },
      { status: 200 },
    );
    const id = await requestReport(url);
    await eventually(async () => (await callbackStatus(id))?.attempts === 1);
    const redelivered = await call(test, 'POST', `/v1/orders/reports/${id}/callbacks/redeliver`, {
      key: shop.api_key,
    });
    expect(redelivered.status).toBe(202);
    await eventually(async () => (await callbackStatus(id))?.status === 'DELIVERED', 20);
    expect(await callbackStatus(id)).toEqual({ status: 'DELIVERED', attempts: 2 });
    const [first, second] = receiver.at('/waiting');
    expect(second.headers['webhook-id']).toBe(first.headers['webhook-id']);
  });

  it("answers 404 CALLBACK_NOT_FOUND when there is nothing to redeliver, and hides other clients' attempts", async () => {
    const accepted = await call(test, 'POST', '/v1/orders/reports', {
      key: shop.api_key,
      json: { start_date: '2042-01-01', end_date: '2042-01-02' },
    });
    await pollUntilDone(test, shop.api_key, accepted.headers.get('location')!);
    const none = await call(
      test,
      'POST',
      `/v1/orders/reports/${accepted.body.id}/callbacks/redeliver`,
      { key: shop.api_key },
    );
    expect(none.status).toBe(404);
    expect(none.body.error_code).toBe('CALLBACK_NOT_FOUND');
    const other = await newClient(test);
    const foreign = await call(test, 'GET', `/v1/orders/reports/${accepted.body.id}/callbacks`, {
      key: other.api_key,
    });
    expect(foreign.status).toBe(404);
    expect(foreign.body.error_code).toBe('REPORT_NOT_FOUND');
  });
});
