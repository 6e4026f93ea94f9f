import { getQueueToken } from '@nestjs/bull';
import type { Queue } from 'bull';
import { addJob, renderJob } from '../../src/common/jobs';
import { call, newClient, startApp, TestApp } from '../support/harness';
import { eventually, Receiver } from '../support/receiver';

describe('Callback URLs cannot reach private networks (SSRF), at request and at connection time', () => {
  let test: TestApp;
  let receiver: Receiver;
  let shop: { id: string; api_key: string };

  beforeAll(async () => {
    receiver = await new Receiver().start();
    test = await startApp({
      CALLBACK_ALLOW_PRIVATE_NETWORKS: 'false',
      CALLBACK_RETRY_DELAYS_MS: '200',
    });
    shop = await newClient(test);
  });
  afterAll(async () => {
    await test.close();
    await receiver.stop();
  });

  const count = async () =>
    Number(
      (
        await test.dataSource.query(`SELECT count(*) FROM reports WHERE client_id = $1`, [shop.id])
      )[0].count,
    );

  it.each([
    'http://127.0.0.1/cb',
    'http://10.0.0.1/cb',
    'http://169.254.169.254/latest/meta-data/',
    'http://[::1]/cb',
    'http://[::ffff:127.0.0.1]/cb',
    'http://2130706433/cb',
    'http://localhost/cb',
    'http://192.168.1.1/cb',
    'http://100.64.0.1/cb',
  ])('refuses %s with 400 CALLBACK_URL_NOT_ALLOWED and creates nothing', async (url) => {
    const answer = await call(test, 'POST', '/v1/orders/reports', {
      key: shop.api_key,
      json: { start_date: '2021-10-01', end_date: '2021-11-01', callback_url: url },
    });
    expect(answer.status).toBe(400);
    expect(answer.body).toEqual({
      error_code: 'CALLBACK_URL_NOT_ALLOWED',
      error_message:
        'callback_url must not point at a private, loopback, link-local or reserved address',
    });
    expect(await count()).toBe(0);
  });

  it.each([
    ['ftp://partner.example/cb', 'must be an absolute http or https URL'],
    ['/relative/cb', 'must be an absolute http or https URL'],
    ['https://user:secret@partner.example/cb', 'must not contain credentials'],
    [
      `https://partner.example/${'a'.repeat(2040)}`,
      'must be shorter than or equal to 2048 characters',
    ],
  ])('refuses the malformed callback_url %s with 400 VALIDATION_FAILED', async (url, message) => {
    const answer = await call(test, 'POST', '/v1/orders/reports', {
      key: shop.api_key,
      json: { start_date: '2021-10-01', end_date: '2021-11-01', callback_url: url },
    });
    expect(answer.status).toBe(400);
    expect(answer.body.error_code).toBe('VALIDATION_FAILED');
    expect(answer.body.details).toContainEqual({ field: 'callback_url', message });
  });

  it('blocks at connection time a name that resolves to a private address only when the callback is sent', async () => {
    // As if `callback_url` had resolved to a public address when the report was requested (DNS rebinding):
    // the row is written directly, and the name now resolves to loopback.
    const url = `http://localhost:${receiver.port}/rebound`;
    const [{ id }] = await test.dataSource.query(
      `INSERT INTO reports (client_id, start_date, end_date, callback_url)
       VALUES ($1, '2043-01-01', '2043-01-02', $2) RETURNING id`,
      [shop.id, url],
    );
    const queue = test.app.get<Queue>(getQueueToken('report-render'));
    await addJob(queue, renderJob(id, 1, 1));

    const status = await eventually(async () => {
      const body = (
        await call(test, 'GET', `/v1/orders/reports/status/${id}`, { key: shop.api_key })
      ).body;
      return body.callback?.status === 'FAILED' && body;
    });
    expect(status.callback).toEqual({ status: 'FAILED', attempts: 2 });
    const attempts = (
      await call(test, 'GET', `/v1/orders/reports/${id}/callbacks`, { key: shop.api_key })
    ).body.data;
    expect(
      attempts.map((a: { status_code: number | null; error: string }) => [a.status_code, a.error]),
    ).toEqual([
      [null, 'connection failed'],
      [null, 'connection failed'],
    ]);
    expect(receiver.received).toHaveLength(0);
  });

  describe('with the default CALLBACK_ALLOWED_PORTS (80 and 443)', () => {
    let webPorts: TestApp;

    beforeAll(async () => {
      webPorts = await startApp({ APP_ROLE: 'api', CALLBACK_ALLOWED_PORTS: '80,443' });
    });
    afterAll(() => webPorts.close());

    it('refuses a callback_url on another port with 400 CALLBACK_URL_NOT_ALLOWED naming the port', async () => {
      const client = await newClient(webPorts);
      const ask = (callbackUrl: string) =>
        call(webPorts, 'POST', '/v1/orders/reports', {
          key: client.api_key,
          json: { start_date: '2043-02-01', end_date: '2043-02-02', callback_url: callbackUrl },
        });
      for (const port of [22, 25, 6379, 8080]) {
        const refused = await ask(`https://8.8.8.8:${port}/`);
        expect(refused.status).toBe(400);
        expect(refused.body).toEqual({
          error_code: 'CALLBACK_URL_NOT_ALLOWED',
          error_message: `callback_url port ${port} is not allowed (allowed: 80, 443)`,
        });
      }
      // Public addresses on the web ports (named or the scheme's default): nothing is sent to them,
      // the reports are never rendered here.
      for (const url of [
        'https://93.184.215.14/cb',
        'http://93.184.215.14:80/cb',
        'https://93.184.215.14:443/cb',
      ]) {
        expect((await ask(url)).status).toBe(202);
      }
    });
  });
});
