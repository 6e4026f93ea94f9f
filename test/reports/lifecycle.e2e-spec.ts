import { getQueueToken } from '@nestjs/bull';
import { Logger } from '@nestjs/common';
import type { Queue } from 'bull';
import { generateOrders } from '../../src/orders/order-seed';
import { ReportSweeper } from '../../src/reports/sweep/report-sweeper';
import {
  call,
  insertOrders,
  newClient,
  pollUntilDone,
  startApp,
  TestApp,
} from '../support/harness';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('The report lifecycle: Idempotency-Key, listing, DELETE, expiry', () => {
  let test: TestApp;
  let shop: { id: string; api_key: string };

  beforeAll(async () => {
    test = await startApp({ REPORT_TTL_HOURS: '1' });
    shop = await newClient(test);
  });
  afterAll(() => test.close());

  const body = { start_date: '2031-01-01', end_date: '2031-02-01' };
  const reportCount = async () =>
    (
      await test.dataSource.query(
        `SELECT count(*)::int AS count FROM reports WHERE client_id = $1`,
        [shop.id],
      )
    )[0].count as number;

  it('answers ten concurrent requests with one Idempotency-Key with one report', async () => {
    const before = await reportCount();
    const answers = await Promise.all(
      Array.from({ length: 10 }, () =>
        call(test, 'POST', '/v1/orders/reports', {
          key: shop.api_key,
          json: body,
          headers: { 'idempotency-key': 'export-jan-2031' },
        }),
      ),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(10).fill(202));
    expect(new Set(answers.map((a) => a.body.id)).size).toBe(1);
    expect(new Set(answers.map((a) => a.headers.get('location'))).size).toBe(1);
    expect(answers.filter((a) => a.headers.get('idempotent-replayed') === 'true')).toHaveLength(9);
    expect(await reportCount()).toBe(before + 1);
  });

  it('answers the same key with another body with 422 IDEMPOTENCY_KEY_REUSED, and creates nothing', async () => {
    const before = await reportCount();
    const answer = await call(test, 'POST', '/v1/orders/reports', {
      key: shop.api_key,
      json: { ...body, end_date: '2031-03-01' },
      headers: { 'idempotency-key': 'export-jan-2031' },
    });
    expect(answer.status).toBe(422);
    expect(answer.body).toEqual({
      error_code: 'IDEMPOTENCY_KEY_REUSED',
      error_message: 'This Idempotency-Key was used with a different body in the last 24 hours',
    });
    expect(await reportCount()).toBe(before);
  });

  it('keeps keys per client, and forgets them after 24 hours', async () => {
    const other = await newClient(test);
    const headers = { 'idempotency-key': 'export-jan-2031' };
    const mine = await call(test, 'POST', '/v1/orders/reports', {
      key: shop.api_key,
      json: body,
      headers,
    });
    const theirs = await call(test, 'POST', '/v1/orders/reports', {
      key: other.api_key,
      json: body,
      headers,
    });
    expect(theirs.status).toBe(202);
    expect(theirs.body.id).not.toBe(mine.body.id);

    await test.dataSource.query(
      `UPDATE reports SET created_at = now() - interval '25 hours' WHERE id = $1`,
      [mine.body.id],
    );
    const later = await call(test, 'POST', '/v1/orders/reports', {
      key: shop.api_key,
      json: { ...body, end_date: '2031-03-01' },
      headers,
    });
    expect(later.status).toBe(202);
    expect(later.body.id).not.toBe(mine.body.id);
  });

  it('refuses an Idempotency-Key that is empty, too long or not visible ASCII', async () => {
    for (const key of ['x'.repeat(256), 'with space', 'clé']) {
      const answer = await call(test, 'POST', '/v1/orders/reports', {
        key: shop.api_key,
        json: body,
        headers: { 'idempotency-key': key },
      });
      expect(answer.status).toBe(400);
      expect(answer.body.details).toEqual([
        { field: 'Idempotency-Key', message: 'must be 1 to 255 visible ASCII characters' },
      ]);
    }
  });

  it("lists the client's reports newest first, by status, a page at a time", async () => {
    const client = await newClient(test);
    const ids: string[] = [];
    for (let month = 1; month <= 3; month += 1) {
      const answer = await call(test, 'POST', '/v1/orders/reports', {
        key: client.api_key,
        json: { start_date: `2032-0${month}-01`, end_date: `2032-0${month + 1}-01` },
      });
      ids.push(answer.body.id);
      await pollUntilDone(test, client.api_key, answer.headers.get('location')!);
    }
    const seen: string[] = [];
    let path = '/v1/orders/reports?limit=2';
    for (;;) {
      const page = await call(test, 'GET', path, { key: client.api_key });
      expect(page.status).toBe(200);
      seen.push(...page.body.data.map((r: { id: string }) => r.id));
      if (!page.body.next_cursor) break;
      path = `/v1/orders/reports?limit=2&cursor=${page.body.next_cursor}`;
    }
    expect(seen).toEqual([...ids].reverse());
    const completed = await call(test, 'GET', '/v1/orders/reports?status=COMPLETED', {
      key: client.api_key,
    });
    expect(completed.body.data).toHaveLength(3);
    expect(completed.body.data[0]).toMatchObject({
      id: ids[2],
      status: 'COMPLETED',
      start_date: '2032-03-01',
      end_date: '2032-04-01',
    });
    const pending = await call(test, 'GET', '/v1/orders/reports?status=PENDING', {
      key: client.api_key,
    });
    expect(pending.body.data).toEqual([]);
    const bad = await call(test, 'GET', '/v1/orders/reports?status=DONE', { key: client.api_key });
    expect(bad.status).toBe(400);
  });

  it('pages through reports created microseconds apart within one millisecond, each exactly once', async () => {
    const client = await newClient(test);
    // created_at is microsecond precision: six reports inside one millisecond, two of them tied
    // (the id breaks the tie). EXPIRED, so that no worker or sweep touches them.
    await test.dataSource.query(
      `INSERT INTO reports (client_id, start_date, end_date, status, created_at)
       SELECT $1, '2036-01-01', '2036-02-01', 'EXPIRED',
              date_trunc('milliseconds', now()) + offset_us * interval '1 microsecond'
         FROM unnest(ARRAY[100, 250, 250, 400, 650, 999]) AS offset_us`,
      [client.id],
    );
    const expected = (
      await test.dataSource.query(
        `SELECT id FROM reports WHERE client_id = $1 ORDER BY created_at DESC, id DESC`,
        [client.id],
      )
    ).map((row: { id: string }) => row.id);
    expect(expected).toHaveLength(6);

    for (const limit of [1, 2, 4]) {
      const seen: string[] = [];
      let path = `/v1/orders/reports?limit=${limit}`;
      for (let pages = 0; pages <= expected.length; pages += 1) {
        const page = await call(test, 'GET', path, { key: client.api_key });
        expect(page.status).toBe(200);
        seen.push(...page.body.data.map((r: { id: string }) => r.id));
        if (!page.body.next_cursor) break;
        path = `/v1/orders/reports?limit=${limit}&cursor=${page.body.next_cursor}`;
      }
      expect({ limit, seen }).toEqual({ limit, seen: expected });
    }
  });

  it('refuses a cursor that is garbled or forged with 400 VALIDATION_FAILED', async () => {
    const forge = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const id = '00000000-0000-4000-8000-000000000000';
    for (const cursor of [
      'not-a-cursor',
      forge(['2021-10-03T14:12:00.123456', id]),
      forge(['2021-02-30T14:12:00.123456Z', id]),
      forge(['2021-10-03T14:12:00.1234567Z', id]),
      forge(['2021-10-03T14:12:00.123456Z', 'not-a-uuid']),
      forge(['2021-10-03T14:12:00.123456Z']),
    ]) {
      const answer = await call(test, 'GET', `/v1/orders/reports?cursor=${cursor}`, {
        key: shop.api_key,
      });
      expect({ cursor, status: answer.status, body: answer.body }).toEqual({
        cursor,
        status: 400,
        body: {
          error_code: 'VALIDATION_FAILED',
          error_message: 'cursor is not a cursor returned by this API',
          details: [{ field: 'cursor', message: 'is not a cursor returned by this API' }],
        },
      });
    }
  });

  it('cancels an unfinished report with DELETE (204): afterwards it is gone', async () => {
    const [{ id }] = await test.dataSource.query(
      `INSERT INTO reports (client_id, start_date, end_date) VALUES ($1, '2033-01-01', '2033-02-01') RETURNING id`,
      [shop.id],
    );
    const deleted = await call(test, 'DELETE', `/v1/orders/reports/${id}`, { key: shop.api_key });
    expect(deleted.status).toBe(204);
    const status = await call(test, 'GET', `/v1/orders/reports/status/${id}`, {
      key: shop.api_key,
    });
    expect(status.status).toBe(404);
    expect(
      (await call(test, 'DELETE', `/v1/orders/reports/${id}`, { key: shop.api_key })).status,
    ).toBe(404);
  });

  it("deletes a finished report's PDF with DELETE: it says EXPIRED, 410 for the PDF; never another client's", async () => {
    const answer = await call(test, 'POST', '/v1/orders/reports', {
      key: shop.api_key,
      json: { start_date: '2034-01-01', end_date: '2034-02-01' },
    });
    const id = answer.body.id;
    await pollUntilDone(test, shop.api_key, answer.headers.get('location')!);
    const other = await newClient(test);
    expect(
      (await call(test, 'DELETE', `/v1/orders/reports/${id}`, { key: other.api_key })).status,
    ).toBe(404);
    expect(
      (await call(test, 'GET', `/v1/orders/reports/${id}`, { key: shop.api_key })).status,
    ).toBe(200);
    for (let i = 0; i < 2; i += 1) {
      // The second DELETE finds nothing left to delete: 204 all the same.
      expect(
        (await call(test, 'DELETE', `/v1/orders/reports/${id}`, { key: shop.api_key })).status,
      ).toBe(204);
    }
    const pdf = await call(test, 'GET', `/v1/orders/reports/${id}`, { key: shop.api_key });
    expect(pdf.status).toBe(410);
    expect(pdf.body.error_code).toBe('REPORT_EXPIRED');
    const status = await call(test, 'GET', `/v1/orders/reports/status/${id}`, {
      key: shop.api_key,
    });
    expect(status.status).toBe(200);
    expect(status.body).toEqual({ id, status: 'EXPIRED', time_zone: 'UTC' });
    // Its chunks go with the sweep once the grace of a download under way is over.
    expect(await chunksAfterGrace(id)).toBe(0);
  });

  it('leaves a FAILED report as it is on DELETE (204): it has no PDF to delete', async () => {
    const [{ id }] = await test.dataSource.query(
      `INSERT INTO reports (client_id, start_date, end_date, status, error_code, error_message, completed_at)
       VALUES ($1, '2033-03-01', '2033-04-01', 'FAILED', 'RENDER_FAILED', 'The PDF could not be rendered', now())
       RETURNING id`,
      [shop.id],
    );
    expect(
      (await call(test, 'DELETE', `/v1/orders/reports/${id}`, { key: shop.api_key })).status,
    ).toBe(204);
    const status = await call(test, 'GET', `/v1/orders/reports/status/${id}`, {
      key: shop.api_key,
    });
    expect(status.status).toBe(200);
    expect(status.body).toMatchObject({
      id,
      status: 'FAILED',
      error: { error_code: 'RENDER_FAILED' },
    });
  });

  it('deletes a report mid-render: the render leaves no chunk of its PDF and no callback event', async () => {
    await insertOrders(test, shop.id, generateOrders(20_000, '2036-01-01', '2036-12-31'));
    const answer = await call(test, 'POST', '/v1/orders/reports', {
      key: shop.api_key,
      // A public address: no DNS lookup, and nothing is ever sent to it (the report is deleted).
      json: {
        start_date: '2036-01-01',
        end_date: '2036-12-31',
        callback_url: 'https://93.184.215.14/hook',
      },
    });
    expect(answer.status).toBe(202);
    const id = answer.body.id as string;
    const queue = test.app.get<Queue>(getQueueToken('report-render'));
    const failures: string[] = [];
    const onFailed = (job: { id: string | number }) => failures.push(String(job.id));
    queue.on('failed', onFailed);
    const logged = jest.spyOn(Logger.prototype, 'log');
    const chunks = async () =>
      (
        await test.dataSource.query(
          `SELECT count(*)::int AS count FROM report_file_chunks WHERE report_id = $1`,
          [id],
        )
      )[0].count as number;
    // The render is under way once its first 1 MiB chunk is stored.
    for (let i = 0; i < 600 && (await chunks()) === 0; i++) await sleep(50);
    expect(await chunks()).toBeGreaterThan(0);
    const [{ status }] = await test.dataSource.query(`SELECT status FROM reports WHERE id = $1`, [
      id,
    ]);
    expect(status).toBe('IN_PROGRESS');

    expect(
      (await call(test, 'DELETE', `/v1/orders/reports/${id}`, { key: shop.api_key })).status,
    ).toBe(204);
    try {
      for (let i = 0; i < 600 && (await queue.getJob(id)); i++) await sleep(50);
      expect(await queue.getJob(id)).toBeNull();
      // The next chunk was refused and the render stopped there, neither printed to its end
      // ("rendered, not stored") nor failed and retried.
      const messages = logged.mock.calls.map(([entry]) => String((entry as { msg?: string })?.msg));
      expect(messages).toContain(`Report ${id}: deleted or finished meanwhile, stopped`);
      expect(messages).not.toContain(`Report ${id}: rendered, not stored`);
      expect(failures).not.toContain(id);
    } finally {
      queue.off('failed', onFailed);
      logged.mockRestore();
    }

    expect(await chunks()).toBe(0);
    const [{ events }] = await test.dataSource.query(
      `SELECT count(*)::int AS events FROM callback_events WHERE report_id = $1`,
      [id],
    );
    expect(events).toBe(0);
    expect(
      (await call(test, 'GET', `/v1/orders/reports/status/${id}`, { key: shop.api_key })).status,
    ).toBe(404);
  });

  it('expires a PDF after REPORT_TTL_HOURS: status EXPIRED, the PDF route 410 REPORT_EXPIRED', async () => {
    const answer = await call(test, 'POST', '/v1/orders/reports', {
      key: shop.api_key,
      json: { start_date: '2035-01-01', end_date: '2035-02-01' },
    });
    const id = answer.body.id;
    await pollUntilDone(test, shop.api_key, answer.headers.get('location')!);
    await test.dataSource.query(
      `UPDATE reports SET completed_at = now() - interval '2 hours' WHERE id = $1`,
      [id],
    );

    const result = await test.app.get(ReportSweeper).sweep();
    expect(result.expired).toBeGreaterThanOrEqual(1);
    const status = await call(test, 'GET', `/v1/orders/reports/status/${id}`, {
      key: shop.api_key,
    });
    expect(status.status).toBe(200);
    expect(status.body).toEqual({ id, status: 'EXPIRED', time_zone: 'UTC' });
    const pdf = await call(test, 'GET', `/v1/orders/reports/${id}`, { key: shop.api_key });
    expect(pdf.status).toBe(410);
    expect(pdf.body).toEqual({
      error_code: 'REPORT_EXPIRED',
      error_message: 'The report has expired; ask for a new one',
    });
    expect(await chunksAfterGrace(id)).toBe(0);
  });

  /** The report's chunks left once its expired PDF's grace is over and the sweep has run. */
  async function chunksAfterGrace(id: string): Promise<number> {
    const chunks = async () =>
      (
        await test.dataSource.query(
          `SELECT count(*)::int AS count FROM report_file_chunks WHERE report_id = $1`,
          [id],
        )
      )[0].count as number;
    expect(await chunks()).toBeGreaterThan(0);
    await test.dataSource.query(`UPDATE reports SET pdf_purge_at = now() WHERE id = $1`, [id]);
    // A pass of the app's own, on its timer, may hold the sweep's lock at first.
    for (let pass = 0; pass < 20 && (await chunks()) > 0; pass += 1) {
      await test.app.get(ReportSweeper).sweep();
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return chunks();
  }
});
