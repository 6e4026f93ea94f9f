import { generateOrders } from '../../src/orders/order-seed';
import { ReportEvents } from '../../src/reports/store/report-events';
import { call, insertOrders, newClient, startApp, TestApp } from '../support/harness';
import { eventually } from '../support/receiver';

describe('Long polling: Prefer: wait=N on the status route', () => {
  let api: TestApp;
  let shop: { id: string; api_key: string };

  beforeAll(async () => {
    api = await startApp({ APP_ROLE: 'api' });
    shop = await newClient(api);
  });
  afterAll(() => api.close());

  const pendingReport = async () =>
    (
      await api.dataSource.query(
        `INSERT INTO reports (client_id, start_date, end_date) VALUES ($1, '2037-01-01', '2037-02-01') RETURNING id`,
        [shop.id],
      )
    )[0].id as string;

  /**
   * Holds an ACCESS EXCLUSIVE lock on a table of this run's database until `release`: whoever
   * touches the table meanwhile waits, which stops the app at a known point without mocking it.
   */
  const lockTable = async (table: 'orders' | 'reports') => {
    const runner = api.dataSource.createQueryRunner();
    await runner.connect();
    await runner.startTransaction();
    await runner.query(`LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`);
    const [{ pid }] = await runner.query(`SELECT pg_backend_pid() AS pid`);
    return {
      /** Whether a query waits on the lock now. */
      blocking: async () =>
        (
          await api.dataSource.query(
            `SELECT 1 FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))`,
            [pid],
          )
        ).length > 0,
      release: async () => {
        if (runner.isReleased) return;
        await runner.rollbackTransaction();
        await runner.release();
      },
    };
  };

  it('holds the answer while the report renders, and answers 303 as soon as it completes', async () => {
    await insertOrders(api, shop.id, generateOrders(1500, '2038-01-01', '2038-02-01'));
    const accepted = await call(api, 'POST', '/v1/orders/reports', {
      key: shop.api_key,
      json: { start_date: '2038-01-01', end_date: '2038-02-01' },
    });
    const id = accepted.body.id as string;
    const events = api.app.get(ReportEvents);
    // The worker claims the report (IN_PROGRESS, published), then waits for this lock to read the
    // orders: however fast it renders, the report completes only once the request is held.
    const orders = await lockTable('orders');
    const worker = await startApp({ APP_ROLE: 'worker' }); // another process's worker, in effect
    try {
      await eventually(orders.blocking, 60);
      const [row] = await api.dataSource.query(`SELECT status FROM reports WHERE id = $1`, [id]);
      expect(row.status).toBe('IN_PROGRESS');
      const answer = call(api, 'GET', `/v1/orders/reports/status/${id}`, {
        key: shop.api_key,
        headers: { prefer: 'wait=30' },
      });
      await eventually(async () => events.held === 1, 10);
      await orders.release();
      const held = await answer;
      expect(held.status).toBe(303);
      expect(held.headers.get('preference-applied')).toBe('wait=30');
      expect(held.headers.get('location')).toBe(`/v1/orders/reports/${id}`);
      expect(events.held).toBe(0);
    } finally {
      await orders.release();
      await worker.close();
    }
  });

  it('answers at once a finished report, registering nothing that outlives the request', async () => {
    const id = await pendingReport();
    await api.dataSource.query(
      `UPDATE reports SET status = 'FAILED', error_code = 'RENDER_FAILED', completed_at = now() WHERE id = $1`,
      [id],
    );
    const started = Date.now();
    const answer = await call(api, 'GET', `/v1/orders/reports/status/${id}`, {
      key: shop.api_key,
      headers: { prefer: 'wait=20' },
    });
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(answer.status).toBe(200);
    expect(answer.body.status).toBe('FAILED');
    expect(answer.headers.get('preference-applied')).toBe('wait=20');
    expect(api.app.get(ReportEvents).held).toBe(0);
  });

  it('ends the wait at once when the status changes while the request reads the report', async () => {
    const id = await pendingReport();
    const events = api.app.get(ReportEvents);
    // The request registers for the change, then its read of the report waits for this lock.
    const reports = await lockTable('reports');
    try {
      const started = Date.now();
      const answer = call(api, 'GET', `/v1/orders/reports/status/${id}`, {
        key: shop.api_key,
        headers: { prefer: 'wait=20' },
      });
      await eventually(async () => events.held === 1 && (await reports.blocking()), 10);
      await events.publish(id); // published before the read answers, so before any wait begins
      await reports.release();
      const held = await answer;
      expect(held.status).toBe(200);
      expect(held.body.status).toBe('PENDING');
      expect(Date.now() - started).toBeLessThan(10_000); // not held to the 20 s deadline
      expect(events.held).toBe(0);
    } finally {
      await reports.release();
    }
  });

  it('does not miss a change published after registering and before the wait begins', async () => {
    const id = await pendingReport();
    const events = api.app.get(ReportEvents);
    const change = await events.subscribe(id, new AbortController().signal);
    try {
      expect(change.changed).toBe(false);
      await events.publish(id);
      await eventually(async () => change.changed, 10); // delivered before the wait begins
      const started = Date.now();
      await change.wait(20_000);
      expect(Date.now() - started).toBeLessThan(10_000);
    } finally {
      change.dispose();
    }
    expect(events.held).toBe(0);
  });

  it('answers at the deadline with the current status and Preference-Applied', async () => {
    const id = await pendingReport();
    const started = Date.now();
    const answer = await call(api, 'GET', `/v1/orders/reports/status/${id}`, {
      key: shop.api_key,
      headers: { prefer: 'respond-async, wait=1' },
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(900); // it was held, not answered at once
    expect(answer.status).toBe(200);
    expect(answer.body.status).toBe('PENDING');
    expect(answer.headers.get('preference-applied')).toBe('wait=1');
    expect(Number(answer.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  });

  it('wakes a held request when the report is deleted: 404', async () => {
    const id = await pendingReport();
    const held = call(api, 'GET', `/v1/orders/reports/status/${id}`, {
      key: shop.api_key,
      headers: { prefer: 'wait=30' },
    });
    const events = api.app.get(ReportEvents);
    await eventually(async () => events.held === 1, 10);
    expect(
      (await call(api, 'DELETE', `/v1/orders/reports/${id}`, { key: shop.api_key })).status,
    ).toBe(204);
    expect((await held).status).toBe(404);
  });

  it('leaves nothing behind when the client goes away mid-wait', async () => {
    const id = await pendingReport();
    const events = api.app.get(ReportEvents);
    const controller = new AbortController();
    const request = fetch(`${api.url}/v1/orders/reports/status/${id}`, {
      headers: { authorization: `Bearer ${shop.api_key}`, prefer: 'wait=30' },
      signal: controller.signal,
    }).catch((error: unknown) => error);
    await eventually(async () => events.held === 1, 10);
    controller.abort();
    await request;
    await eventually(async () => events.held === 0, 5);
  });
  it('answers a held request when the process shuts down, and closes its connections at once', async () => {
    const other = await startApp({ APP_ROLE: 'api' });
    let closing: Promise<void> | undefined;
    try {
      const client = await newClient(other);
      const [{ id }] = await other.dataSource.query(
        `INSERT INTO reports (client_id, start_date, end_date) VALUES ($1, '2037-01-01', '2037-02-01') RETURNING id`,
        [client.id],
      );
      // A keep-alive connection left idle, as HTTP clients keep them, and a held request.
      await call(other, 'GET', '/health');
      const held = call(other, 'GET', `/v1/orders/reports/status/${id}`, {
        key: client.api_key,
        headers: { prefer: 'wait=30' },
      });
      const events = other.app.get(ReportEvents);
      await eventually(async () => events.held === 1, 10);
      closing = other.close();
      const answer = await held;
      expect(answer.status).toBe(200);
      expect(answer.body.status).toBe('PENDING');
      expect(answer.headers.get('preference-applied')).toBe('wait=30');
      const outcome = await Promise.race([
        closing.then(() => 'closed'),
        new Promise((resolve) => setTimeout(resolve, 10_000, 'still open after 10 s')),
      ]);
      expect(outcome).toBe('closed');
    } finally {
      await (closing ?? other.close());
    }
  });
});
