import { createHash, randomBytes } from 'node:crypto';
import { get, IncomingMessage } from 'node:http';
import { ReportSweeper } from '../../src/reports/sweep/report-sweeper';
import { call, newClient, startApp, sweeperOf, TestApp } from '../support/harness';

/** A stored PDF larger than every buffer between the server and a client that stops reading. */
const CHUNKS = 32;
const CHUNK_BYTES = 1024 * 1024;

describe('Retention: expired PDFs deleted after a grace, finished reports after REPORT_RETENTION_DAYS', () => {
  let test: TestApp;
  let sweeper: ReportSweeper;
  let shop: Awaited<ReturnType<typeof newClient>>;

  // An API process: no sweep runs on a timer beside the ones called here.
  beforeAll(async () => {
    test = await startApp({ APP_ROLE: 'api' });
    sweeper = sweeperOf(test);
    shop = await newClient(test, 'Retention');
  });
  afterAll(async () => {
    await test.dataSource.query(`DELETE FROM clients WHERE id = $1`, [shop.id]);
    await test.close();
  });

  const chunkCount = async (id: string) =>
    (
      await test.dataSource.query(
        `SELECT count(*)::int AS count FROM report_file_chunks WHERE report_id = $1`,
        [id],
      )
    )[0].count as number;

  it('lets a download under way when its PDF expires end whole, and deletes the chunks after the grace', async () => {
    // A COMPLETED report past REPORT_TTL_HOURS (168), its PDF stored as the render stores one.
    const pdf = randomBytes(CHUNKS * CHUNK_BYTES);
    const [{ id }] = await test.dataSource.query(
      `INSERT INTO reports (client_id, start_date, end_date, status, progress, pdf_size, pdf_etag,
                            pdf_attempt, order_count, completed_at)
       VALUES ($1, '2021-10-01', '2021-11-01', 'COMPLETED', 100, $2, '"big"', 1, 0,
               now() - interval '200 hours') RETURNING id`,
      [shop.id, pdf.length],
    );
    for (let seq = 0; seq < CHUNKS; seq += 1) {
      await test.dataSource.query(
        `INSERT INTO report_file_chunks (report_id, attempt, seq, data) VALUES ($1, 1, $2, $3)`,
        [id, seq, pdf.subarray(seq * CHUNK_BYTES, (seq + 1) * CHUNK_BYTES)],
      );
    }

    // The download starts, and its client stops reading: the server waits to send the rest.
    const response = await new Promise<IncomingMessage>((resolve, reject) =>
      get(
        `${test.url}/v1/orders/reports/${id}`,
        { headers: { authorization: `Bearer ${shop.api_key}` } },
        resolve,
      ).on('error', reject),
    );
    response.pause();
    expect(response.statusCode).toBe(200);
    expect(Number(response.headers['content-length'])).toBe(pdf.length);

    const swept = await sweeper.sweep();
    expect(swept.expired).toBeGreaterThanOrEqual(1);
    // Expired: a new download is refused; the one under way is not cut.
    expect(
      (await call(test, 'GET', `/v1/orders/reports/${id}`, { key: shop.api_key })).status,
    ).toBe(410);
    // Before, the sweep deleted the chunks with the expiry: the download broke off mid-PDF.
    const received: Buffer[] = [];
    await new Promise<void>((resolve, reject) => {
      response.on('data', (chunk: Buffer) => received.push(chunk));
      response.on('end', resolve);
      response.on('error', reject);
      response.on('aborted', () => reject(new Error('download broken off')));
      response.resume();
    });
    const whole = Buffer.concat(received);
    expect(whole.length).toBe(pdf.length);
    expect(createHash('sha256').update(whole).digest('hex')).toBe(
      createHash('sha256').update(pdf).digest('hex'),
    );

    // The grace is not over: the chunks stay, whatever the sweep does meanwhile.
    await sweeper.sweep();
    expect(await chunkCount(id)).toBe(CHUNKS);
    // It is over: the next pass deletes them.
    await test.dataSource.query(
      `UPDATE reports SET pdf_purge_at = now() - interval '1 second' WHERE id = $1`,
      [id],
    );
    expect((await sweeper.sweep()).purged).toBe(1);
    expect(await chunkCount(id)).toBe(0);
    const [row] = await test.dataSource.query(`SELECT status FROM reports WHERE id = $1`, [id]);
    expect(row.status).toBe('EXPIRED');
  });

  it('deletes a report finished longer than REPORT_RETENTION_DAYS (90) ago, with its callback event and attempts, and keeps a younger one', async () => {
    /** A finished report with a delivered callback: its event and two attempts. */
    async function finished(status: string, ageDays: number): Promise<string> {
      const [{ id }] = await test.dataSource.query(
        `INSERT INTO reports (client_id, start_date, end_date, status, callback_url, error_code,
                              completed_at)
         VALUES ($1, '2021-10-01', '2021-11-01', $2, 'https://partner.example/cb',
                 CASE WHEN $2 = 'FAILED' THEN 'RENDER_FAILED' END,
                 now() - make_interval(days => $3)) RETURNING id`,
        [shop.id, status, ageDays],
      );
      await test.dataSource.query(
        `INSERT INTO callback_events (id, report_id, client_id, url, payload, status, attempts)
         VALUES ($1, $2, $3, 'https://partner.example/cb', '{}', 'DELIVERED', 2)`,
        [`msg_${id}`, id, shop.id],
      );
      await test.dataSource.query(
        `INSERT INTO callback_attempts (event_id, attempt, status_code, duration_ms, error,
                                        response_excerpt)
         VALUES ($1, 1, 503, 12, 'HTTP 503', 'busy'), ($1, 2, 204, 9, NULL, NULL)`,
        [`msg_${id}`],
      );
      return id;
    }
    const rows = async (ids: string[]) =>
      (
        await test.dataSource.query(
          `SELECT (SELECT count(*) FROM reports WHERE id = ANY($1::uuid[]))::int AS reports,
                  (SELECT count(*) FROM callback_events WHERE report_id = ANY($1::uuid[]))::int AS events,
                  (SELECT count(*) FROM callback_attempts a JOIN callback_events e ON e.id = a.event_id
                    WHERE e.report_id = ANY($1::uuid[]))::int AS attempts`,
          [ids],
        )
      )[0];

    const old = [await finished('EXPIRED', 91), await finished('FAILED', 120)];
    const young = [await finished('EXPIRED', 89), await finished('FAILED', 30)];
    // Finished long ago, but its PDF expired just now: kept until its chunks are deleted.
    const expiring = await finished('EXPIRED', 100);
    await test.dataSource.query(
      `UPDATE reports SET pdf_purge_at = now() + interval '1 hour' WHERE id = $1`,
      [expiring],
    );
    expect(await rows([...old, ...young, expiring])).toEqual({
      reports: 5,
      events: 5,
      attempts: 10,
    });

    // Before, nothing was ever deleted.
    expect((await sweeper.sweep()).deleted).toBeGreaterThanOrEqual(2);

    expect(await rows(old)).toEqual({ reports: 0, events: 0, attempts: 0 });
    expect(await rows([...young, expiring])).toEqual({ reports: 3, events: 3, attempts: 6 });
    const status = await call(test, 'GET', `/v1/orders/reports/status/${old[0]}`, {
      key: shop.api_key,
    });
    expect(status.status).toBe(404);
  });
});
