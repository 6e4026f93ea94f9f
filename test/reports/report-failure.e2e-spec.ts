import { getQueueToken } from '@nestjs/bull';
import type { Queue } from 'bull';
import { addJob, renderJob } from '../../src/common/jobs';
import { call, newClient, order, pollUntilDone, startApp, TestApp } from '../support/harness';

describe('A report with more orders than REPORT_MAX_ORDERS', () => {
  let test: TestApp;
  let shop: { id: string; api_key: string };

  beforeAll(async () => {
    test = await startApp({ REPORT_MAX_ORDERS: '2' });
    shop = await newClient(test);
    for (const [number, at] of [
      ['A-1', '2021-10-02T10:00:00Z'],
      ['A-2', '2021-10-03T10:00:00Z'],
      ['A-3', '2021-10-04T10:00:00Z'],
    ]) {
      const created = await call(test, 'POST', '/v1/orders', {
        key: shop.api_key,
        json: order(number, at),
      });
      expect(created.status).toBe(201);
    }
  });
  afterAll(() => test.close());

  it('is refused at request time with 422 REPORT_TOO_LARGE, and nothing is created', async () => {
    const answer = await call(test, 'POST', '/v1/orders/reports', {
      key: shop.api_key,
      json: { start_date: '2021-10-01', end_date: '2021-11-01' },
    });
    expect(answer.status).toBe(422);
    expect(answer.body).toEqual({
      error_code: 'REPORT_TOO_LARGE',
      error_message: 'The period holds more than 2 orders; ask for a shorter period',
    });
    const [{ count }] = await test.dataSource.query(
      `SELECT count(*)::int AS count FROM reports WHERE client_id = $1`,
      [shop.id],
    );
    expect(count).toBe(0);
  });

  it('ends FAILED with REPORT_TOO_LARGE when orders arrived between the request and the render', async () => {
    // Accepted while the period held fewer orders: the row as the POST wrote it, then the render.
    const [{ id }] = await test.dataSource.query(
      `INSERT INTO reports (client_id, start_date, end_date) VALUES ($1, '2021-10-01', '2021-11-01') RETURNING id`,
      [shop.id],
    );
    await addJob(test.app.get<Queue>(getQueueToken('report-render')), renderJob(id, 3, 1));

    const done = await pollUntilDone(test, shop.api_key, `/v1/orders/reports/status/${id}`);
    expect(done.status).toBe(200);
    expect(done.body).toEqual({
      id,
      status: 'FAILED',
      time_zone: 'UTC',
      error: {
        error_code: 'REPORT_TOO_LARGE',
        error_message: 'The period holds 3 orders, more than the 2 a report may hold',
      },
    });
    // Finished without a PDF: not "not ready", which would have the client wait for one.
    const pdf = await call(test, 'GET', `/v1/orders/reports/${id}`, { key: shop.api_key });
    expect(pdf.status).toBe(404);
    expect(pdf.body).toEqual({
      error_code: 'REPORT_FAILED',
      error_message:
        'The report failed (REPORT_TOO_LARGE) and has no PDF; see the Link header for its status',
    });
    expect(pdf.headers.get('link')).toBe(`</v1/orders/reports/status/${id}>; rel="status"`);
  });

  it('ends FAILED with RENDER_FAILED, unrendered, a report claimed more often than attempts and stalls allow', async () => {
    // As after workers that kept dying on it, each job lost and queued again by the sweep.
    const [{ id }] = await test.dataSource.query(
      `INSERT INTO reports (client_id, start_date, end_date, render_attempts)
       VALUES ($1, '2030-07-01', '2030-07-02', 5) RETURNING id`,
      [shop.id],
    );
    // What those dying claims wrote of the PDF before they died.
    for (const attempt of [3, 4, 5]) {
      await test.dataSource.query(
        `INSERT INTO report_file_chunks (report_id, attempt, seq, data) VALUES ($1, $2, 0, $3)`,
        [id, attempt, Buffer.from('%PDF-1.7 half-written')],
      );
    }
    await addJob(test.app.get<Queue>(getQueueToken('report-render')), renderJob(id, 3, 1));

    const done = await pollUntilDone(test, shop.api_key, `/v1/orders/reports/status/${id}`);
    expect(done.body).toEqual({
      id,
      status: 'FAILED',
      time_zone: 'UTC',
      error: { error_code: 'RENDER_FAILED', error_message: 'The PDF could not be rendered' },
    });
    const [row] = await test.dataSource.query(
      `SELECT render_attempts, pdf_size FROM reports WHERE id = $1`,
      [id],
    );
    expect(row).toEqual({ render_attempts: 6, pdf_size: null });
    const [{ chunks }] = await test.dataSource.query(
      `SELECT count(*)::int AS chunks FROM report_file_chunks WHERE report_id = $1`,
      [id],
    );
    expect(chunks).toBe(0);
  });
});
