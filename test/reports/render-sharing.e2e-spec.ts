import Redis from 'ioredis';
import { Client as PgClient } from 'pg';
import { generateOrders } from '../../src/orders/order-seed';
import { forgetQueues, testEnvironment } from '../support/env';
import {
  call,
  insertOrders,
  newClient,
  pdfText,
  pollUntilDone,
  startApp,
  TestApp,
} from '../support/harness';
import { eventually } from '../support/receiver';

/** Queues of this spec's own: no other spec's jobs reach its worker. */
const QUEUES = { QUEUE_PREFIX: `${testEnvironment().QUEUE_PREFIX}-sharing` };

describe("A worker's pages: one client's long render never keeps another's report from starting", () => {
  let test: TestApp;

  // One worker of two pages; parts of 100 rows, so that a long report has parts to borrow for.
  beforeAll(async () => {
    test = await startApp({
      ...QUEUES,
      RENDER_CONCURRENCY: '2',
      RENDER_ROWS_PER_PART: '100',
      RATE_LIMIT_STATUS_PER_MINUTE: '100000',
    });
  });
  afterAll(async () => {
    await test.close();
    const redis = new Redis(testEnvironment().REDIS_URL);
    await forgetQueues(redis, QUEUES.QUEUE_PREFIX);
    redis.disconnect();
  });

  it("renders a small report while the worker's other job, a long one, is held mid-render", async () => {
    const big = await newClient(test, 'Big');
    const small = await newClient(test, 'Small');
    await insertOrders(test, big.id, generateOrders(4000, '2061-01-01', '2061-02-01'));
    await insertOrders(test, small.id, generateOrders(3, '2061-01-01', '2061-02-01'));
    const period = { start_date: '2061-01-01', end_date: '2061-02-01' };
    // A connection of the test's own holds the long report's row FOR SHARE: its progress updates
    // (and its end) wait, so its render stops at its next progress update with its page, as one
    // reading its rows from a slow database would, while its chunks are still written.
    const holder = new PgClient({ connectionString: testEnvironment().DATABASE_URL });
    await holder.connect();
    try {
      // A first report, to its end: the worker's start-up warm-up, which holds both pages for a
      // while, is over, and the long render finds both pages free.
      const first = await call(test, 'POST', '/v1/orders/reports', {
        key: small.api_key,
        json: { start_date: '2061-02-01', end_date: '2061-02-02' },
      });
      const warm = await pollUntilDone(test, small.api_key, first.headers.get('location')!, 60);
      expect(warm.status).toBe(303);

      const long = await call(test, 'POST', '/v1/orders/reports', {
        key: big.api_key,
        json: period,
      });
      expect(long.status).toBe(202);
      await eventually(async () => {
        const [row] = await test.dataSource.query(`SELECT status FROM reports WHERE id = $1`, [
          long.body.id,
        ]);
        return row.status === 'IN_PROGRESS';
      });
      await holder.query('BEGIN');
      const [held] = (
        await holder.query(`SELECT status, progress FROM reports WHERE id = $1 FOR SHARE`, [
          long.body.id,
        ])
      ).rows;
      // Rendering, with progress updates ahead of it: it cannot end while the row is held.
      expect(held).toEqual({ status: 'IN_PROGRESS', progress: expect.any(Number) });
      expect(held.progress).toBeLessThan(90);

      // Before, the long render had borrowed the worker's second page for all its length: this
      // report's job was taken and waited for a page until the long one ended.
      const { headers } = await call(test, 'POST', '/v1/orders/reports', {
        key: small.api_key,
        json: period,
      });
      const done = await pollUntilDone(test, small.api_key, headers.get('location')!, 60);
      expect(done.status).toBe(303);
      const [still] = await test.dataSource.query(`SELECT status FROM reports WHERE id = $1`, [
        long.body.id,
      ]);
      expect(still.status).toBe('IN_PROGRESS');

      await holder.query('COMMIT');
      const longDone = await pollUntilDone(test, big.api_key, long.headers.get('location')!, 120);
      expect(longDone.status).toBe(303);
      const [finished] = await test.dataSource.query(
        `SELECT status, order_count AS "orderCount" FROM reports WHERE id = $1`,
        [long.body.id],
      );
      expect(finished).toEqual({ status: 'COMPLETED', orderCount: 4000 });
      const pdf = await call(test, 'GET', done.headers.get('location')!, { key: small.api_key });
      expect(pdf.status).toBe(200);
      expect(await pdfText(pdf.bytes)).toContain(small.name);
    } finally {
      await holder.query('ROLLBACK').catch(() => undefined);
      await holder.end();
      await test.dataSource.query(`DELETE FROM clients WHERE id = ANY($1::uuid[])`, [
        [big.id, small.id],
      ]);
    }
  });
});
