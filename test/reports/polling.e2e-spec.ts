import { createHash } from 'node:crypto';
import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { ApiError } from '../../src/common/api-error';
import { CUSTOMER_NAME_MAX_LENGTH } from '../../src/orders/order-limits';
import { ReportsService } from '../../src/reports/api/reports.service';
import {
  call,
  newClient,
  order,
  pdfText,
  pollUntilDone,
  startApp,
  TestApp,
} from '../support/harness';
import { pdfinfo } from '../support/pdf-tools';

describe('Recipe 1: polling, against real Postgres, Redis and Chromium', () => {
  let test: TestApp;
  let shop: { id: string; api_key: string };
  let other: { id: string; api_key: string };

  beforeAll(async () => {
    test = await startApp();
    shop = await newClient(test, 'Acme & Sons <Ltd>');
    other = await newClient(test, 'Other Shop');
  });
  afterAll(() => test.close());

  async function createOrders(key: string, orders: object[]) {
    for (const body of orders) {
      const answer = await call(test, 'POST', '/v1/orders', { key, json: body });
      expect(answer.status).toBe(201);
    }
  }

  it('accepts a report at once, then polls to 303 and downloads a PDF of exactly the period', async () => {
    await createOrders(shop.api_key, [
      order('IN-FIRST', '2021-10-01T00:00:00Z'),
      order('IN-MIDDLE', '2021-10-15T12:30:00+02:00', { currency: 'USD' }),
      order('IN-LAST', '2021-10-31T23:59:59.999Z'),
      order('OUT-BEFORE', '2021-09-30T23:59:59.999Z'),
      order('OUT-AFTER', '2021-11-01T00:00:00Z'),
    ]);
    await createOrders(other.api_key, [order('OTHER-CLIENT', '2021-10-10T10:00:00Z')]);

    const accepted = await call(test, 'POST', '/v1/orders/reports', {
      key: shop.api_key,
      json: { start_date: '2021-10-01', end_date: '2021-11-01' },
    });
    expect(accepted.status).toBe(202);
    const id = accepted.body.id as string;
    const location = `/v1/orders/reports/status/${id}`;
    expect(accepted.headers.get('location')).toBe(location);
    const retryAfter = Number(accepted.headers.get('retry-after'));
    expect(Number.isInteger(retryAfter)).toBe(true);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(accepted.body).toEqual({
      id,
      status: 'PENDING',
      time_zone: 'UTC',
      links: [{ rel: 'status', href: location }],
    });

    const done = await pollUntilDone(test, shop.api_key, location);
    expect(done.status).toBe(303);
    expect(done.headers.get('location')).toBe(`/v1/orders/reports/${id}`);
    const pdf = await call(test, 'GET', done.headers.get('location')!, { key: shop.api_key });
    expect(pdf.status).toBe(200);
    // The 303 says what the download must be: its length, pages and SHA-256.
    expect(done.body).toEqual({
      id,
      status: 'COMPLETED',
      time_zone: 'UTC',
      pdf: {
        bytes: pdf.bytes.length,
        pages: Number((await pdfinfo(pdf.bytes)).Pages),
        sha256: createHash('sha256').update(pdf.bytes).digest('hex'),
      },
      links: [{ rel: 'reports', href: `/v1/orders/reports/${id}` }],
    });
    expect(pdf.headers.get('content-type')).toBe('application/pdf');
    expect(Number(pdf.headers.get('content-length'))).toBe(pdf.bytes.length);
    expect(pdf.headers.get('content-disposition')).toBe(
      'attachment; filename="orders-report-2021-10-01-2021-11-01.pdf"',
    );
    expect(pdf.bytes.subarray(0, 5).toString()).toBe('%PDF-');
    const text = await pdfText(pdf.bytes);
    for (const inside of ['IN-FIRST', 'IN-MIDDLE', 'IN-LAST']) expect(text).toContain(inside);
    for (const outside of ['OUT-BEFORE', 'OUT-AFTER', 'OTHER-CLIENT'])
      expect(text).not.toContain(outside);
    expect(text).toContain('Acme & Sons <Ltd>');
    expect(text).toMatch(/50\.00\s*EUR/);
    expect(text).toMatch(/25\.00\s*USD/);
    expect(text.indexOf('IN-FIRST')).toBeLessThan(text.indexOf('IN-MIDDLE'));
    expect(text.indexOf('IN-MIDDLE')).toBeLessThan(text.indexOf('IN-LAST'));

    const etag = pdf.headers.get('etag');
    expect(etag).toMatch(/^".+"$/);
    const again = await call(test, 'GET', `/v1/orders/reports/${id}`, {
      key: shop.api_key,
      headers: { 'if-none-match': etag! },
    });
    expect(again.status).toBe(304);
  });

  it('answers 404 REPORT_NOT_READY, with a Link to the status route, before the PDF exists', async () => {
    const [{ id }] = await test.dataSource.query(
      `INSERT INTO reports (client_id, start_date, end_date) VALUES ($1, '2021-10-01', '2021-11-01') RETURNING id`,
      [shop.id],
    );
    const answer = await call(test, 'GET', `/v1/orders/reports/${id}`, { key: shop.api_key });
    expect(answer.status).toBe(404);
    expect(answer.body.error_code).toBe('REPORT_NOT_READY');
    expect(answer.headers.get('link')).toBe(`</v1/orders/reports/status/${id}>; rel="status"`);

    const status = await call(test, 'GET', `/v1/orders/reports/status/${id}`, {
      key: shop.api_key,
    });
    expect(status.status).toBe(200);
    expect(status.body).toEqual({
      id,
      status: 'PENDING',
      time_zone: 'UTC',
      progress: 0,
      created_at: expect.any(String),
      // Stored behind the service's back: not in the fair queue until the sweep puts it there.
      queue_position: null,
      estimated_completion_at: null,
    });
    expect(Number(status.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  });

  /** A COMPLETED report whose stored PDF is `stored`, of a declared size of `size` bytes. */
  async function completedWith(stored: Buffer[], size: number): Promise<string> {
    const [{ id }] = await test.dataSource.query(
      `INSERT INTO reports (client_id, start_date, end_date, status, progress, pdf_size, pdf_etag,
                            pdf_attempt, completed_at)
       VALUES ($1, '2021-10-01', '2021-11-01', 'COMPLETED', 100, $2, '"etag"', 1, now()) RETURNING id`,
      [shop.id, size],
    );
    for (const [seq, data] of stored.entries()) {
      await test.dataSource.query(
        `INSERT INTO report_file_chunks (report_id, attempt, seq, data) VALUES ($1, 1, $2, $3)`,
        [id, seq, data],
      );
    }
    return id;
  }

  it('answers 500 without an ETag when a COMPLETED report has no PDF stored, and 304 to its ETag', async () => {
    // COMPLETED with no PDF stored: no 404 REPORT_NOT_READY, whose Link would send the client to
    // the status route, which sends it back here (303), and so on.
    const id = await completedWith([], 10);
    const broken = await call(test, 'GET', `/v1/orders/reports/${id}`, { key: shop.api_key });
    expect(broken.status).toBe(500);
    expect(broken.body.error_code).toBe('UNEXPECTED_ERROR');
    expect(broken.headers.get('etag')).toBeNull();
    // Its ETag still answers 304: the client holds the PDF.
    const cached = await call(test, 'GET', `/v1/orders/reports/${id}`, {
      key: shop.api_key,
      headers: { 'if-none-match': '"etag"' },
    });
    expect(cached.status).toBe(304);
    expect(cached.headers.get('etag')).toBe('"etag"');
  });

  it('breaks the download, rather than ending it short of Content-Length, when chunks go missing', async () => {
    // The first chunk is there, the second was deleted (the report expired mid-download).
    const id = await completedWith([Buffer.from('%PDF-')], 10);
    const response = await fetch(`${test.url}/v1/orders/reports/${id}`, {
      headers: { authorization: `Bearer ${shop.api_key}` },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-length')).toBe('10');
    // Ended short, the body would leave the client waiting on the connection (a minute here).
    const body = Promise.race([
      response.arrayBuffer(),
      new Promise((resolve) => setTimeout(resolve, 10_000, 'still waiting after 10 s')),
    ]);
    await expect(body).rejects.toThrow();
  });

  it("isolates clients: another client's report and orders answer exactly as unknown ones", async () => {
    const accepted = await call(test, 'POST', '/v1/orders/reports', {
      key: shop.api_key,
      json: { start_date: '2021-10-01', end_date: '2021-10-02' },
    });
    const id = accepted.body.id as string;
    const unknown = '00000000-0000-4000-8000-000000000000';
    for (const path of [`/v1/orders/reports/status/${id}`, `/v1/orders/reports/${id}`]) {
      const foreign = await call(test, 'GET', path, { key: other.api_key });
      const missing = await call(test, 'GET', path.replace(id, unknown), { key: other.api_key });
      expect(foreign.status).toBe(404);
      expect(foreign.body).toEqual({
        error_code: 'REPORT_NOT_FOUND',
        error_message: 'No such report',
      });
      expect(foreign.body).toEqual(missing.body);
    }
    const list = await call(test, 'GET', '/v1/orders?start_date=2021-10-01&end_date=2021-11-01', {
      key: other.api_key,
    });
    expect(list.body.data.map((o: { number: string }) => o.number)).toEqual(['OTHER-CLIENT']);
    const shopOrder = (
      await call(test, 'GET', '/v1/orders?start_date=2021-10-01&end_date=2021-10-02', {
        key: shop.api_key,
      })
    ).body.data[0];
    const foreignOrder = await call(test, 'GET', `/v1/orders/${shopOrder.id}`, {
      key: other.api_key,
    });
    expect(foreignOrder.status).toBe(404);
    expect(foreignOrder.body.error_code).toBe('ORDER_NOT_FOUND');
    await pollUntilDone(test, shop.api_key, `/v1/orders/reports/status/${id}`);
  });

  it("answers polls arriving together each with its own client's report, reads of one turn in one query", async () => {
    // Clients of their own: the others' status-route limits have been spent on earlier polls.
    const first = await newClient(test, 'Batch One');
    const second = await newClient(test, 'Batch Two');
    const post = async (key: string) =>
      (
        await call(test, 'POST', '/v1/orders/reports', {
          key,
          json: { start_date: '2021-09-01', end_date: '2021-09-02' },
        })
      ).body.id as string;
    const mine = await post(first.api_key);
    const theirs = await post(second.api_key);
    const unknown = '00000000-0000-4000-8000-000000000001';
    const polls = [
      ...Array.from({ length: 10 }, () => ({ key: first.api_key, id: mine, found: true })),
      ...Array.from({ length: 10 }, () => ({ key: second.api_key, id: theirs, found: true })),
      ...Array.from({ length: 10 }, () => ({ key: second.api_key, id: mine, found: false })),
      ...Array.from({ length: 10 }, () => ({ key: first.api_key, id: unknown, found: false })),
    ];
    const answers = await Promise.all(
      polls.map(({ key, id }) => call(test, 'GET', `/v1/orders/reports/status/${id}`, { key })),
    );
    answers.forEach((answer, i) => {
      const { id, found } = polls[i];
      expect(answer.status).toBe(found ? (answer.body.status === 'COMPLETED' ? 303 : 200) : 404);
      expect(found ? answer.body.id : answer.body.error_code).toBe(found ? id : 'REPORT_NOT_FOUND');
    });
    // Whether polls over HTTP meet in one turn depends on when they arrive; reads asked for in one
    // turn always share a query.
    const reports = test.app.get(ReportsService);
    const clientOf = (key: string) => (key === first.api_key ? first.id : second.id);
    const query = jest.spyOn(test.dataSource, 'query');
    try {
      const reads = await Promise.all(
        polls.map(({ key, id }) =>
          reports.findForClient(clientOf(key), id).then(
            (report) => report.id,
            (error: ApiError) => error.code,
          ),
        ),
      );
      expect(reads).toEqual(polls.map(({ id, found }) => (found ? id : 'REPORT_NOT_FOUND')));
      // The in-process worker queries too: count the report reads alone.
      const sql = query.mock.calls.map(([text]) => text);
      expect(sql.filter((text) => text.includes('unnest($1::uuid[], $2::uuid[])'))).toHaveLength(1);
    } finally {
      query.mockRestore();
    }
    for (const [key, id] of [
      [first.api_key, mine],
      [second.api_key, theirs],
    ]) {
      await pollUntilDone(test, key, `/v1/orders/reports/status/${id}`);
    }
  });

  it('prints a valid PDF that says so when the period has no orders', async () => {
    const accepted = await call(test, 'POST', '/v1/orders/reports', {
      key: shop.api_key,
      json: { start_date: '2030-01-01', end_date: '2030-02-01' },
    });
    const done = await pollUntilDone(test, shop.api_key, accepted.headers.get('location')!);
    expect(done.status).toBe(303);
    const pdf = await call(test, 'GET', done.headers.get('location')!, { key: shop.api_key });
    const text = await pdfText(pdf.bytes);
    expect(text).toContain('No orders in this period');
    expect(text).not.toContain('IN-FIRST');
  });

  it('prints right-to-left text, emoji and a name as long as it may be without failing the report', async () => {
    const long = `${'X'.repeat(CUSTOMER_NAME_MAX_LENGTH - 8)}LONG-END`;
    await createOrders(shop.api_key, [
      order('WIDE-1', '2023-06-10T10:00:00Z', {
        customer: { name: long, email: 'long@example.com' },
      }),
      order('WIDE-2', '2023-06-11T10:00:00Z', {
        customer: { name: 'שלום עולם 🎉 مرحبا', email: 'rtl@example.com' },
        items: [{ sku: 'E-1', name: '🎁 gift <b>box</b>', quantity: 1, unit_price: '9.99' }],
      }),
    ]);
    const accepted = await call(test, 'POST', '/v1/orders/reports', {
      key: shop.api_key,
      json: { start_date: '2023-06-01', end_date: '2023-07-01' },
    });
    const done = await pollUntilDone(test, shop.api_key, accepted.headers.get('location')!);
    expect(done.status).toBe(303);
    const pdf = await call(test, 'GET', done.headers.get('location')!, { key: shop.api_key });
    const text = (await pdfText(pdf.bytes)).replace(/\s+/g, '');
    expect(text).toContain('WIDE-1');
    expect(text).toContain('WIDE-2');
    expect(text).toContain('LONG-END');
    expect(text).toContain(`${'X'.repeat(CUSTOMER_NAME_MAX_LENGTH - 8)}LONG-END`);
  });

  it('prints markup in order fields as text and lets the page make no request', async () => {
    let hits = 0;
    const listener: Server = createServer((_request, response) => {
      hits += 1;
      response.end('x');
    });
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    const port = (listener.address() as AddressInfo).port;
    try {
      const hostile = `<img src="http://127.0.0.1:${port}/x">`;
      await createOrders(shop.api_key, [
        order('HOSTILE-1', '2022-03-10T10:00:00Z', {
          customer: { name: hostile, email: 'eve@example.com' },
          items: [
            {
              sku: 'X',
              name: `<link rel="stylesheet" href="http://127.0.0.1:${port}/css">`,
              quantity: 1,
              unit_price: '1.00',
            },
          ],
        }),
      ]);
      const accepted = await call(test, 'POST', '/v1/orders/reports', {
        key: shop.api_key,
        json: { start_date: '2022-03-01', end_date: '2022-04-01' },
      });
      const done = await pollUntilDone(test, shop.api_key, accepted.headers.get('location')!);
      const pdf = await call(test, 'GET', done.headers.get('location')!, { key: shop.api_key });
      const text = (await pdfText(pdf.bytes)).replace(/\s+/g, '');
      expect(text).toContain(hostile.replace(/\s+/g, ''));
      expect(hits).toBe(0);
    } finally {
      listener.close();
    }
  });
});
