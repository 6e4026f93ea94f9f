import { createHash } from 'node:crypto';
import {
  call,
  downloadReport,
  newClient,
  order,
  pdfText,
  pollUntilDone,
  startApp,
  TestApp,
} from '../support/harness';

describe("Reports in the merchant's time zone", () => {
  let test: TestApp;
  let paris: { id: string; api_key: string; time_zone: string };

  beforeAll(async () => {
    test = await startApp({ RATE_LIMIT_STATUS_PER_MINUTE: '100000' });
    paris = await newClient(test, 'Boutique Paris', 'Europe/Paris');
    const orders = [
      ['FR-IN-FIRST', '2021-09-30T22:30:00Z'], // 00:30 on 1 October in Paris (UTC+2)
      ['FR-OUT-BEFORE', '2021-09-30T21:30:00Z'], // 23:30 on 30 September in Paris
      ['FR-IN-LAST', '2021-10-31T22:30:00Z'], // 23:30 on 31 October in Paris (UTC+1 by then)
      ['FR-OUT-AFTER', '2021-10-31T23:30:00Z'], // 00:30 on 1 November in Paris
    ];
    for (const [number, placedAt] of orders) {
      const created = await call(test, 'POST', '/v1/orders', {
        key: paris.api_key,
        json: order(number, placedAt),
      });
      expect(created.status).toBe(201);
    }
  });
  afterAll(() => test.close());

  const report = async (json: object) => {
    const { accepted, done, pdf } = await downloadReport(test, paris.api_key, json);
    return { accepted, done, text: await pdfText(pdf.bytes) };
  };

  it("runs October from local midnight to local midnight in the client's own zone", async () => {
    expect(paris.time_zone).toBe('Europe/Paris');
    const { accepted, done, text } = await report({
      start_date: '2021-10-01',
      end_date: '2021-11-01',
    });
    expect(accepted.body.time_zone).toBe('Europe/Paris');
    expect(done.body.time_zone).toBe('Europe/Paris');
    expect(text).toContain('FR-IN-FIRST');
    expect(text).toContain('FR-IN-LAST');
    expect(text).not.toContain('FR-OUT-BEFORE');
    expect(text).not.toContain('FR-OUT-AFTER');
    // Times print in the report's zone, which the heading and the period name.
    const flat = text.replace(/\s+/g, ' ');
    expect(flat).toContain('2021-10-01 00:30');
    expect(flat).toContain('2021-10-31 23:30');
    expect(flat).not.toContain('2021-09-30 22:30');
    expect(flat).toContain('Europe/Paris');
    const listed = await call(test, 'GET', '/v1/orders/reports?limit=1', { key: paris.api_key });
    expect(listed.body.data[0]).toMatchObject({ id: accepted.body.id, time_zone: 'Europe/Paris' });
  });

  it('counts the 25 hours of the day the clocks go back, in the zone the request names', async () => {
    const shop = await newClient(test, 'Hourly');
    // One order an hour, from 20:00 UTC on 30 October to 02:00 UTC on 1 November.
    for (let hour = 0; hour < 31; hour += 1) {
      const placedAt = new Date(Date.UTC(2021, 9, 30, 20 + hour)).toISOString();
      await call(test, 'POST', '/v1/orders', {
        key: shop.api_key,
        json: order(`H-${String(hour).padStart(2, '0')}`, placedAt),
      });
    }
    const accepted = await call(test, 'POST', '/v1/orders/reports', {
      key: shop.api_key,
      json: { start_date: '2021-10-31', end_date: '2021-11-01', time_zone: 'Europe/Paris' },
    });
    expect(accepted.body.time_zone).toBe('Europe/Paris');
    await pollUntilDone(test, shop.api_key, accepted.headers.get('location')!);
    const [{ order_count }] = await test.dataSource.query(
      `SELECT order_count FROM reports WHERE id = $1`,
      [accepted.body.id],
    );
    expect(order_count).toBe(25);
    // The same day in UTC holds 24.
    const utc = await call(test, 'POST', '/v1/orders/reports', {
      key: shop.api_key,
      json: { start_date: '2021-10-31', end_date: '2021-11-01' },
    });
    expect(utc.body.time_zone).toBe('UTC');
    await pollUntilDone(test, shop.api_key, utc.headers.get('location')!);
    const [{ order_count: utcCount }] = await test.dataSource.query(
      `SELECT order_count FROM reports WHERE id = $1`,
      [utc.body.id],
    );
    expect(utcCount).toBe(24);
  });

  it('refuses an unknown zone with 400 naming time_zone', async () => {
    for (const zone of ['Mars/Olympus', '+02:00', '', 42]) {
      const answer = await call(test, 'POST', '/v1/orders/reports', {
        key: paris.api_key,
        json: { start_date: '2021-10-01', end_date: '2021-11-01', time_zone: zone },
      });
      expect(answer.status).toBe(400);
      expect(answer.body.error_code).toBe('VALIDATION_FAILED');
      expect(answer.body.details.map((d: { field: string }) => d.field)).toContain('time_zone');
    }
  });

  it('takes the zone into the Idempotency-Key comparison, the default as if it were named', async () => {
    const headers = { 'idempotency-key': `tz-${Date.now()}` };
    const period = { start_date: '2021-12-01', end_date: '2021-12-02' };
    const first = await call(test, 'POST', '/v1/orders/reports', {
      key: paris.api_key,
      json: period,
      headers,
    });
    expect(first.status).toBe(202);
    const named = await call(test, 'POST', '/v1/orders/reports', {
      key: paris.api_key,
      json: { ...period, time_zone: 'europe/paris' },
      headers,
    });
    expect(named.status).toBe(202);
    expect(named.body.id).toBe(first.body.id);
    const other = await call(test, 'POST', '/v1/orders/reports', {
      key: paris.api_key,
      json: { ...period, time_zone: 'Asia/Tokyo' },
      headers,
    });
    expect(other.status).toBe(422);
    expect(other.body.error_code).toBe('IDEMPOTENCY_KEY_REUSED');
  });

  it('still finds a report whose Idempotency-Key was sent before there were zones (hashed without one)', async () => {
    const shop = await newClient(test, 'Before zones');
    const period = { start_date: '2021-12-03', end_date: '2021-12-04' };
    // The request hash as it was stored before time zones: the body's fields, no zone.
    const before = createHash('sha256')
      .update(JSON.stringify([period.start_date, period.end_date, null]))
      .digest('hex');
    const [{ id }] = await test.dataSource.query(
      `INSERT INTO reports (client_id, start_date, end_date, idempotency_key, request_hash)
       VALUES ($1, $2, $3, 'from-before-zones', $4) RETURNING id`,
      [shop.id, period.start_date, period.end_date, before],
    );
    const replay = await call(test, 'POST', '/v1/orders/reports', {
      key: shop.api_key,
      json: period,
      headers: { 'idempotency-key': 'from-before-zones' },
    });
    expect(replay.status).toBe(202);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.body.id).toBe(id);
  });
});
