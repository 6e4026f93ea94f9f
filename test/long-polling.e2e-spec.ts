import { generateOrders, insertOrders } from '../src/orders/order-seed';
import { ReportEvents } from '../src/reports/report-events';
import { call, newClient, startApp, TestApp } from './harness';
import { eventually } from './receiver';

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

  it('holds the answer while the report renders, and answers 303 as soon as it completes', async () => {
    await insertOrders(api.dataSource, shop.id, generateOrders(1500, '2038-01-01', '2038-02-01'));
    const accepted = await call(api, 'POST', '/v1/orders/reports', {
      key: shop.api_key,
      json: { start_date: '2038-01-01', end_date: '2038-02-01' },
    });
    const id = accepted.body.id as string;
    const worker = await startApp({ APP_ROLE: 'worker' }); // another process's worker, in effect
    try {
      await eventually(async () => {
        const [row] = await api.dataSource.query(`SELECT status FROM reports WHERE id = $1`, [id]);
        return row.status === 'IN_PROGRESS';
      }, 60);
      const held = await call(api, 'GET', `/v1/orders/reports/status/${id}`, {
        key: shop.api_key,
        headers: { prefer: 'wait=30' },
      });
      expect(held.status).toBe(303);
      expect(held.headers.get('preference-applied')).toBe('wait=30');
      expect(held.headers.get('location')).toBe(`/v1/orders/reports/${id}`);
    } finally {
      await worker.close();
    }
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
});
