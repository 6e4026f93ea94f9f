import { call, newClient, order, startApp, TestApp } from '../support/harness';

describe('Every bad request gets a clear error in the contract format and changes nothing', () => {
  let test: TestApp;
  let key: string;
  let clientId: string;

  beforeAll(async () => {
    test = await startApp();
    const client = await newClient(test);
    key = client.api_key;
    clientId = client.id;
  });
  afterAll(() => test.close());

  const count = async (table: 'orders' | 'reports') =>
    Number(
      (
        await test.dataSource.query(`SELECT count(*) FROM ${table} WHERE client_id = $1`, [
          clientId,
        ])
      )[0].count,
    );

  const reportCases: Array<[string, unknown, string, string]> = [
    ['missing dates', {}, 'start_date', 'must be a calendar date YYYY-MM-DD'],
    [
      'a day that does not exist',
      { start_date: '2021-02-30', end_date: '2021-03-01' },
      'start_date',
      'must be a calendar date YYYY-MM-DD',
    ],
    [
      'a date-time instead of a day',
      { start_date: '2021-10-01T00:00:00Z', end_date: '2021-11-01' },
      'start_date',
      'must be a calendar date YYYY-MM-DD',
    ],
    [
      'a number',
      { start_date: 20211001, end_date: '2021-11-01' },
      'start_date',
      'must be a calendar date YYYY-MM-DD',
    ],
    [
      'end before start',
      { start_date: '2021-11-01', end_date: '2021-10-01' },
      'end_date',
      'must be after start_date',
    ],
    [
      'an empty period',
      { start_date: '2021-10-01', end_date: '2021-10-01' },
      'end_date',
      'must be after start_date',
    ],
    [
      'a period over REPORT_MAX_RANGE_DAYS',
      { start_date: '2021-01-01', end_date: '2022-01-03' },
      'end_date',
      'must be at most 366 days after start_date',
    ],
    [
      'an unknown field',
      { start_date: '2021-10-01', end_date: '2021-11-01', format: 'csv' },
      'format',
      'property format should not exist',
    ],
  ];

  it.each(reportCases)(
    'POST /v1/orders/reports refuses %s',
    async (_name, body, field, message) => {
      const answer = await call(test, 'POST', '/v1/orders/reports', { key, json: body });
      expect(answer.status).toBe(400);
      expect(answer.body.error_code).toBe('VALIDATION_FAILED');
      expect(answer.body.error_message).toEqual(expect.any(String));
      expect(answer.body.details).toContainEqual({ field, message });
      expect(await count('reports')).toBe(0);
    },
  );

  const orderCases: Array<[string, Record<string, unknown>, string]> = [
    ['an unknown status', { status: 'LOST' }, 'status'],
    ['an unknown currency', { currency: 'EUX' }, 'currency'],
    ['a lower-case currency', { currency: 'eur' }, 'currency'],
    ['a placed_at without an offset', { placed_at: '2021-10-03T14:12:00' }, 'placed_at'],
    ['a placed_at on 30 February', { placed_at: '2021-02-30T14:12:00Z' }, 'placed_at'],
    ['a placed_at in year 0 in UTC', { placed_at: '0001-01-01T00:00:00+14:00' }, 'placed_at'],
    ['a placed_at in year 10000 in UTC', { placed_at: '9999-12-31T23:00:00-02:00' }, 'placed_at'],
    ['a NUL byte in the number', { number: 'ORD\u0000-1' }, 'number'],
    ['no items', { items: [] }, 'items'],
    [
      'a negative quantity',
      { items: [{ sku: 'S', name: 'N', quantity: -1, unit_price: '1.00' }] },
      'items.0.quantity',
    ],
    [
      'a fractional quantity',
      { items: [{ sku: 'S', name: 'N', quantity: 1.5, unit_price: '1.00' }] },
      'items.0.quantity',
    ],
    [
      'a price with three decimals',
      { items: [{ sku: 'S', name: 'N', quantity: 1, unit_price: '1.005' }] },
      'items.0.unit_price',
    ],
    [
      'a price as a float',
      { items: [{ sku: 'S', name: 'N', quantity: 1, unit_price: 1.5 }] },
      'items.0.unit_price',
    ],
    ['a bad email', { customer: { name: 'Ada', email: 'not-an-email' } }, 'customer.email'],
    [
      'a customer name over 200 characters',
      { customer: { name: 'A'.repeat(201), email: 'ada@example.com' } },
      'customer.name',
    ],
    [
      'an unknown nested field',
      { customer: { name: 'Ada', email: 'ada@example.com', vip: true } },
      'customer.vip',
    ],
    ['a client-supplied total', { total: '0.01' }, 'total'],
    [
      'a total larger than the database holds',
      {
        items: [
          { sku: 'A', name: 'A', quantity: 1000000, unit_price: '999999999999.99' },
          { sku: 'B', name: 'B', quantity: 1000000, unit_price: '999999999999.99' },
        ],
      },
      'items',
    ],
  ];

  it.each(orderCases)('POST /v1/orders refuses %s', async (_name, change, field) => {
    const answer = await call(test, 'POST', '/v1/orders', {
      key,
      json: order('BAD-1', '2021-10-03T14:12:00Z', change),
    });
    expect(answer.status).toBe(400);
    expect(answer.body.error_code).toBe('VALIDATION_FAILED');
    expect(answer.body.details.map((d: { field: string }) => d.field)).toContain(field);
    expect(await count('orders')).toBe(0);
  });

  it('computes the total exactly and refuses a second order with the same number (409)', async () => {
    const body = order('ORD-1', '2021-10-03T14:12:00Z', {
      items: [
        { sku: 'A', name: 'A', quantity: 3, unit_price: '0.10' },
        { sku: 'B', name: 'B', quantity: 1, unit_price: '0.20' },
      ],
    });
    const created = await call(test, 'POST', '/v1/orders', { key, json: body });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      number: 'ORD-1',
      total: '0.50',
      item_count: 4,
      placed_at: '2021-10-03T14:12:00.000Z',
    });
    const again = await call(test, 'POST', '/v1/orders', { key, json: body });
    expect(again.status).toBe(409);
    expect(again.body).toEqual({
      error_code: 'ORDER_NUMBER_TAKEN',
      error_message: 'Order number ORD-1 is already taken',
    });
    expect(await count('orders')).toBe(1);
  });

  it('answers malformed JSON with 400 VALIDATION_FAILED', async () => {
    const answer = await call(test, 'POST', '/v1/orders/reports', {
      key,
      body: '{"start_date": "2021-10-01",',
      headers: { 'content-type': 'application/json' },
    });
    expect(answer.status).toBe(400);
    expect(answer.body).toEqual({
      error_code: 'VALIDATION_FAILED',
      error_message: 'body is not valid JSON',
      details: [{ field: 'body', message: 'is not valid JSON' }],
    });
  });

  it('refuses a body that is not JSON (415) and one that is too large (413)', async () => {
    const text = await call(test, 'POST', '/v1/orders/reports', {
      key,
      body: 'hello',
      headers: { 'content-type': 'text/plain' },
    });
    expect(text.status).toBe(415);
    expect(text.body.error_code).toBe('UNSUPPORTED_MEDIA_TYPE');
    const huge = await call(test, 'POST', '/v1/orders', {
      key,
      body: JSON.stringify({ number: 'x'.repeat(2 * 1024 * 1024) }),
      headers: { 'content-type': 'application/json' },
    });
    expect(huge.status).toBe(413);
    expect(huge.body.error_code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('answers 401 UNAUTHORIZED without a key or with an unknown one, on every /v1 route', async () => {
    for (const [method, path] of [
      ['POST', '/v1/orders/reports'],
      ['GET', '/v1/orders/reports/status/00000000-0000-4000-8000-000000000000'],
      ['GET', '/v1/orders/reports/00000000-0000-4000-8000-000000000000'],
      ['GET', '/v1/orders'],
      ['POST', '/v1/orders'],
    ]) {
      for (const headers of <Record<string, string>[]>[
        {},
        { authorization: 'Bearer rk_not-a-key' },
        { authorization: `Basic ${key}` },
      ]) {
        const answer = await call(test, method, path, {
          headers,
          json: method === 'POST' ? {} : undefined,
        });
        expect(answer.status).toBe(401);
        expect(answer.body).toEqual({
          error_code: 'UNAUTHORIZED',
          error_message: 'A valid API key is required (Authorization: Bearer <api_key>)',
        });
      }
    }
  });

  it('answers unknown routes with 404 NOT_FOUND and odd ids with 404 REPORT_NOT_FOUND', async () => {
    const route = await call(test, 'GET', '/v1/nothing-here', { key });
    expect(route.status).toBe(404);
    expect(route.body).toEqual({ error_code: 'NOT_FOUND', error_message: 'No such route' });
    const odd = await call(
      test,
      'GET',
      `/v1/orders/reports/status/${encodeURIComponent("1' OR 1=1 --")}`,
      { key },
    );
    expect(odd.status).toBe(404);
    expect(odd.body.error_code).toBe('REPORT_NOT_FOUND');
  });

  it('refuses absurd page sizes and forged cursors on GET /v1/orders', async () => {
    for (const query of [
      'limit=0',
      'limit=1000',
      'limit=abc',
      'cursor=not-a-cursor',
      'start_date=2021-02-30',
    ]) {
      const answer = await call(test, 'GET', `/v1/orders?${query}`, { key });
      expect(answer.status).toBe(400);
      expect(answer.body.error_code).toBe('VALIDATION_FAILED');
    }
  });

  it('pages through orders with a cursor, in placed_at order', async () => {
    for (const [number, at] of [
      ['P-3', '2023-01-03T00:00:00Z'],
      ['P-1', '2023-01-01T00:00:00Z'],
      ['P-2', '2023-01-02T00:00:00Z'],
    ]) {
      await call(test, 'POST', '/v1/orders', { key, json: order(number, at) });
    }
    const numbers: string[] = [];
    let path = '/v1/orders?start_date=2023-01-01&end_date=2023-02-01&limit=2';
    for (;;) {
      const page = await call(test, 'GET', path, { key });
      numbers.push(...page.body.data.map((o: { number: string }) => o.number));
      if (!page.body.next_cursor) break;
      path = `/v1/orders?start_date=2023-01-01&end_date=2023-02-01&limit=2&cursor=${page.body.next_cursor}`;
    }
    expect(numbers).toEqual(['P-1', 'P-2', 'P-3']);
  });
});
