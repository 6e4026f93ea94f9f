import { call, newClient, order, pollUntilDone, startApp, TestApp } from './harness';

describe('A report that cannot be made', () => {
  let test: TestApp;

  beforeAll(async () => {
    test = await startApp({ REPORT_MAX_ORDERS: '2' });
  });
  afterAll(() => test.close());

  it('ends as FAILED with REPORT_TOO_LARGE when the period holds more orders than a report may', async () => {
    const shop = await newClient(test);
    for (const [number, at] of [
      ['A-1', '2021-10-02T10:00:00Z'],
      ['A-2', '2021-10-03T10:00:00Z'],
      ['A-3', '2021-10-04T10:00:00Z'],
    ]) {
      expect(
        (await call(test, 'POST', '/v1/orders', { key: shop.api_key, json: order(number, at) }))
          .status,
      ).toBe(201);
    }
    const accepted = await call(test, 'POST', '/v1/orders/reports', {
      key: shop.api_key,
      json: { start_date: '2021-10-01', end_date: '2021-11-01' },
    });
    const done = await pollUntilDone(test, shop.api_key, accepted.headers.get('location')!);
    expect(done.status).toBe(200);
    expect(done.body).toEqual({
      id: accepted.body.id,
      status: 'FAILED',
      error: {
        error_code: 'REPORT_TOO_LARGE',
        error_message: 'The period holds 3 orders, more than the 2 a report may hold',
      },
    });
    const pdf = await call(test, 'GET', `/v1/orders/reports/${accepted.body.id}`, {
      key: shop.api_key,
    });
    expect(pdf.status).toBe(404);
    expect(pdf.body.error_code).toBe('REPORT_NOT_READY');
  });
});
