import { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import Redis from 'ioredis';
import { generateOrders } from '../../src/orders/order-seed';
import { PdfRenderer } from '../../src/pdf/pdf-renderer.service';
import { forgetQueues, testEnvironment } from '../support/env';
import {
  call,
  insertOrders,
  newClient,
  parsePdf,
  pollUntilDone,
  startApp,
  TestApp,
} from '../support/harness';
import { exited, killGroup, spawnWorker } from '../support/processes';
import { eventually, Receiver } from '../support/receiver';
import { TcpProxy } from '../support/tcp-proxy';

/** Short enough for a test, long enough for a render on a busy 2-core machine. */
const FAST_RECOVERY = { RENDER_STALL_TIMEOUT_MS: '4000', SWEEP_INTERVAL_MS: '1000' };
const CALLBACKS = {
  CALLBACK_ALLOW_PRIVATE_NETWORKS: 'true',
  CALLBACK_RETRY_DELAYS_MS: '300,300,300',
  // The tests poll as fast as Retry-After allows, for minutes.
  RATE_LIMIT_STATUS_PER_MINUTE: '100000',
};

describe('Nothing lost when a process, Chromium, Redis or Postgres fails', () => {
  let receiver: Receiver;
  let periods = 0;

  beforeAll(async () => {
    receiver = await new Receiver().start();
  });
  afterAll(() => receiver.stop());

  /** A month of its own with `orders` orders, so that each test's report is its own. */
  async function seededPeriod(test: TestApp, clientId: string, orders: number) {
    periods += 1;
    const start = `${2050 + periods}-03-01`;
    const end = `${2050 + periods}-04-01`;
    if (orders > 0) await insertOrders(test, clientId, generateOrders(orders, start, end));
    return { start_date: start, end_date: end };
  }

  const reportRow = async (test: TestApp, id: string) =>
    (await test.dataSource.query(`SELECT status, progress FROM reports WHERE id = $1`, [id]))[0];

  /** Deliveries the receiver answered with 2xx for one path, and their webhook-ids. */
  const deliveries = (path: string) => receiver.at(path).map((d) => d.headers['webhook-id']);

  describe('a worker process', () => {
    let api: TestApp;
    const workers: ChildProcess[] = [];

    beforeAll(async () => {
      api = await startApp({ APP_ROLE: 'api', ...CALLBACKS });
    });
    afterAll(async () => {
      for (const worker of workers) if (worker.exitCode === null) killGroup(worker, 'SIGKILL');
      await api.close();
    });

    it('killed with SIGKILL mid-render: the report is taken again, completes once, its callback is sent once', async () => {
      const shop = await newClient(api);
      const period = await seededPeriod(api, shop.id, 3000);
      const first = spawnWorker({ ...FAST_RECOVERY, ...CALLBACKS });
      workers.push(first);
      const accepted = await call(api, 'POST', '/v1/orders/reports', {
        key: shop.api_key,
        json: { ...period, callback_url: receiver.script('/sigkill', { status: 200 }) },
      });
      const id = accepted.body.id as string;
      await eventually(async () => (await reportRow(api, id))?.status === 'IN_PROGRESS', 60);
      killGroup(first, 'SIGKILL');
      await exited(first);
      expect((await reportRow(api, id)).status).toBe('IN_PROGRESS');

      const killedAt = Date.now();
      const second = spawnWorker({ ...FAST_RECOVERY, ...CALLBACKS });
      workers.push(second);
      const done = await pollUntilDone(api, shop.api_key, accepted.headers.get('location')!, 120);
      expect(done.status).toBe(303);
      console.log(
        `Recovery after a worker SIGKILL: completed ${Date.now() - killedAt} ms after the kill`,
      );

      await eventually(async () => deliveries('/sigkill').length > 0, 30);
      await new Promise((resolve) => setTimeout(resolve, 1500)); // time for a duplicate to show up
      expect(deliveries('/sigkill')).toHaveLength(1);
      const pdf = await call(api, 'GET', done.headers.get('location')!, { key: shop.api_key });
      expect(pdf.status).toBe(200);
      killGroup(second, 'SIGKILL');
      await exited(second);
    });

    it('killed after writing part of a long PDF: the next claim writes it whole, the dead one leaves nothing', async () => {
      const shop = await newClient(api);
      // About 4 MB of PDF: several chunks, the first written long before the last part prints.
      const period = await seededPeriod(api, shop.id, 20000);
      const first = spawnWorker({ ...FAST_RECOVERY, ...CALLBACKS });
      workers.push(first);
      const accepted = await call(api, 'POST', '/v1/orders/reports', {
        key: shop.api_key,
        json: period,
      });
      const id = accepted.body.id as string;
      const chunks = async () =>
        (await api.dataSource.query(
          `SELECT attempt, count(*)::int AS count FROM report_file_chunks WHERE report_id = $1
            GROUP BY attempt ORDER BY attempt`,
          [id],
        )) as { attempt: number; count: number }[];
      await eventually(async () => (await chunks()).length > 0, 120);
      killGroup(first, 'SIGKILL');
      await exited(first);
      expect((await reportRow(api, id)).status).toBe('IN_PROGRESS');
      expect(await chunks()).toEqual([{ attempt: 1, count: expect.any(Number) }]);

      const second = spawnWorker({ ...FAST_RECOVERY, ...CALLBACKS });
      workers.push(second);
      const done = await pollUntilDone(api, shop.api_key, accepted.headers.get('location')!, 180);
      expect(done.status).toBe(303);
      const [report] = await api.dataSource.query(
        `SELECT pdf_attempt, pdf_size FROM reports WHERE id = $1`,
        [id],
      );
      const stored = await chunks();
      expect(stored).toEqual([{ attempt: report.pdf_attempt, count: expect.any(Number) }]);
      expect(report.pdf_attempt).toBeGreaterThan(1);
      expect(stored[0].count).toBeGreaterThan(2);

      const pdf = await call(api, 'GET', done.headers.get('location')!, { key: shop.api_key });
      expect(pdf.status).toBe(200);
      expect(pdf.bytes.length).toBe(report.pdf_size);
      expect(pdf.headers.get('content-length')).toBe(String(report.pdf_size));
      expect(pdf.headers.get('etag')).toBe(
        `"${createHash('sha256').update(pdf.bytes).digest('base64url')}"`,
      );
      const { numpages, text } = await parsePdf(pdf.bytes);
      expect(text).toContain(`Page ${numpages} of ${numpages}`);
      expect(text.match(/Order number/g)?.length).toBe(numpages);
      killGroup(second, 'SIGKILL');
      await exited(second);
    });

    it('told SIGTERM mid-render: finishes the render in flight, then exits', async () => {
      const shop = await newClient(api);
      const period = await seededPeriod(api, shop.id, 2000);
      const worker = spawnWorker({ ...CALLBACKS });
      workers.push(worker);
      const accepted = await call(api, 'POST', '/v1/orders/reports', {
        key: shop.api_key,
        json: period,
      });
      const id = accepted.body.id as string;
      await eventually(async () => (await reportRow(api, id))?.status === 'IN_PROGRESS', 120);
      worker.kill('SIGTERM'); // as an orchestrator does: to the process, not its Chromium
      // Nest re-raises the signal once its shutdown hooks have run: an orderly exit by SIGTERM.
      expect(await exited(worker)).toEqual({ code: null, signal: 'SIGTERM' });
      expect((await reportRow(api, id)).status).toBe('COMPLETED');
    });
  });

  describe('Chromium', () => {
    let test: TestApp;
    beforeAll(async () => {
      test = await startApp({ ...CALLBACKS });
    });
    afterAll(() => test.close());

    it('killed mid-render: the pool relaunches it, the job retries and completes, one callback', async () => {
      const shop = await newClient(test);
      const period = await seededPeriod(test, shop.id, 3000);
      const renderer = test.app.get(PdfRenderer);
      await renderer.ping();
      const restarts = renderer.restarts;
      const accepted = await call(test, 'POST', '/v1/orders/reports', {
        key: shop.api_key,
        json: { ...period, callback_url: receiver.script('/chromium', { status: 200 }) },
      });
      const id = accepted.body.id as string;
      // 60: the first 2,000 rows are read, and their parts are printing.
      await eventually(async () => (await reportRow(test, id))?.progress >= 60, 120);
      process.kill(renderer.browserPid!, 'SIGKILL');

      const done = await pollUntilDone(test, shop.api_key, accepted.headers.get('location')!, 120);
      expect(done.status).toBe(303);
      expect(renderer.restarts).toBe(restarts + 1);
      await eventually(async () => deliveries('/chromium').length > 0, 30);
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect(deliveries('/chromium')).toHaveLength(1);
    });
  });

  describe('Redis', () => {
    it('flushed while reports wait and while a callback waits for its retry: all complete, each callback once', async () => {
      const env = testEnvironment();
      const redis = new Redis(env.REDIS_URL);
      const api = await startApp({ APP_ROLE: 'api', ...CALLBACKS });
      let worker: TestApp | undefined;
      try {
        const shop = await newClient(api);
        const ids: string[] = [];
        for (let i = 0; i < 3; i += 1) {
          const period = await seededPeriod(api, shop.id, 5);
          const accepted = await call(api, 'POST', '/v1/orders/reports', {
            key: shop.api_key,
            json: { ...period, callback_url: receiver.script(`/flush-${i}`, { status: 200 }) },
          });
          ids.push(accepted.body.id);
        }
        await forgetQueues(redis); // the queue forgets all three
        const flushedAt = Date.now();
        worker = await startApp({ APP_ROLE: 'worker', ...CALLBACKS, ...FAST_RECOVERY });
        for (const id of ids) {
          const done = await pollUntilDone(
            api,
            shop.api_key,
            `/v1/orders/reports/status/${id}`,
            90,
          );
          expect(done.status).toBe(303);
        }
        console.log(
          `Recovery after a Redis flush: all reports completed ${Date.now() - flushedAt} ms after it`,
        );
        for (let i = 0; i < 3; i += 1)
          await eventually(async () => deliveries(`/flush-${i}`).length === 1, 30);

        // A callback waiting for its retry when Redis forgets it.
        await worker.close();
        worker = await startApp({
          APP_ROLE: 'worker',
          ...FAST_RECOVERY,
          CALLBACK_ALLOW_PRIVATE_NETWORKS: 'true',
          CALLBACK_RETRY_DELAYS_MS: '4000',
        });
        const period = await seededPeriod(api, shop.id, 1);
        const accepted = await call(api, 'POST', '/v1/orders/reports', {
          key: shop.api_key,
          json: {
            ...period,
            callback_url: receiver.script('/flush-retry', { status: 503 }, { status: 200 }),
          },
        });
        await eventually(async () => deliveries('/flush-retry').length === 1, 60);
        await forgetQueues(redis); // the delayed retry is gone with it
        await eventually(async () => deliveries('/flush-retry').length === 2, 60);
        const attempts = (
          await call(api, 'GET', `/v1/orders/reports/${accepted.body.id}/callbacks`, {
            key: shop.api_key,
          })
        ).body.data;
        expect(attempts.map((a: { status_code: number }) => a.status_code)).toEqual([503, 200]);
        expect(new Set(deliveries('/flush-retry')).size).toBe(1);
      } finally {
        await worker?.close();
        await api.close();
        redis.disconnect();
      }
    });

    it('down when a report is asked for: still 202, and the report completes once Redis is back', async () => {
      const env = testEnvironment();
      const proxy = await TcpProxy.for(env.REDIS_URL).start();
      const test = await startApp({ REDIS_URL: proxy.url(env.REDIS_URL), ...FAST_RECOVERY });
      try {
        const shop = await newClient(test);
        const period = await seededPeriod(test, shop.id, 3);
        await proxy.cut();
        const accepted = await call(test, 'POST', '/v1/orders/reports', {
          key: shop.api_key,
          json: period,
        });
        expect(accepted.status).toBe(202);
        const status = await call(test, 'GET', accepted.headers.get('location')!, {
          key: shop.api_key,
        });
        expect(status.status).toBe(200);
        expect(status.body.status).toBe('PENDING');
        const health = await call(test, 'GET', '/health');
        expect(health.status).toBe(503);
        expect(health.body.error_message).toContain('redis');

        await proxy.restore();
        const done = await pollUntilDone(test, shop.api_key, accepted.headers.get('location')!, 90);
        expect(done.status).toBe(303);
        await eventually(async () => (await call(test, 'GET', '/health')).status === 200, 30);
      } finally {
        await test.close();
        await proxy.stop();
      }
    });

    it('down while a status request is held: held to its deadline, and the API still shuts down', async () => {
      const env = testEnvironment();
      const proxy = await TcpProxy.for(env.REDIS_URL).start();
      const test = await startApp({ APP_ROLE: 'api', REDIS_URL: proxy.url(env.REDIS_URL) });
      let closing: Promise<void> | undefined;
      try {
        const shop = await newClient(test);
        const accepted = await call(test, 'POST', '/v1/orders/reports', {
          key: shop.api_key,
          json: await seededPeriod(test, shop.id, 0),
        });
        await proxy.cut();
        // The first held request of this process: its subscription to status changes never
        // completes while Redis is away.
        const held = await call(test, 'GET', accepted.headers.get('location')!, {
          key: shop.api_key,
          headers: { prefer: 'wait=2' },
        });
        expect(held.status).toBe(200);
        expect(held.body.status).toBe('PENDING');
        expect(held.headers.get('preference-applied')).toBe('wait=2');
        // Shutdown used to wait for that subscription, that is for Redis, forever.
        closing = test.close();
        const outcome = await Promise.race([
          closing.then(() => 'closed'),
          new Promise((resolve) => setTimeout(resolve, 20_000, 'still open after 20 s')),
        ]);
        expect(outcome).toBe('closed');
      } finally {
        await proxy.restore();
        await (closing ?? test.close());
        await proxy.stop();
      }
    });
  });

  describe('Postgres', () => {
    it('down: 503 SERVICE_UNAVAILABLE with Retry-After, /health names it, and the API recovers by itself', async () => {
      const env = testEnvironment();
      const proxy = await TcpProxy.for(env.DATABASE_URL).start();
      const test = await startApp({ APP_ROLE: 'api', DATABASE_URL: proxy.url(env.DATABASE_URL) });
      try {
        const shop = await newClient(test);
        const accepted = await call(test, 'POST', '/v1/orders/reports', {
          key: shop.api_key,
          json: { start_date: '2021-10-01', end_date: '2021-10-02' },
        });
        const status = `/v1/orders/reports/status/${accepted.body.id}`;
        await proxy.cut();
        // Polls arriving together share one read: its failure answers each of them in the contract's format.
        const polls = await Promise.all(
          Array.from({ length: 5 }, () => call(test, 'GET', status, { key: shop.api_key })),
        );
        for (const answer of polls) {
          expect(answer.status).toBe(503);
          expect(answer.body).toEqual({
            error_code: 'SERVICE_UNAVAILABLE',
            error_message: 'The service is temporarily unavailable',
          });
        }
        for (const [method, path] of [
          ['GET', '/v1/orders'],
          ['POST', '/v1/orders/reports'],
        ]) {
          const answer = await call(test, method, path, {
            key: shop.api_key,
            json:
              method === 'POST' ? { start_date: '2021-10-01', end_date: '2021-11-01' } : undefined,
          });
          expect(answer.status).toBe(503);
          expect(answer.body).toEqual({
            error_code: 'SERVICE_UNAVAILABLE',
            error_message: 'The service is temporarily unavailable',
          });
          expect(answer.headers.get('retry-after')).toBe('5');
        }
        const health = await call(test, 'GET', '/health');
        expect(health.status).toBe(503);
        expect(health.body.error_message).toContain('postgres');

        await proxy.restore();
        await eventually(
          async () => (await call(test, 'GET', '/v1/orders', { key: shop.api_key })).status === 200,
          30,
        );
      } finally {
        await test.close();
        await proxy.stop();
      }
    });
  });
});
