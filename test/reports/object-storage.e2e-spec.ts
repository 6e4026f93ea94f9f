import {
  GetObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer } from 'node:net';
import { generateOrders } from '../../src/orders/order-seed';
import { ReportSweeper } from '../../src/reports/sweep/report-sweeper';
import {
  Answer,
  call,
  downloadReport,
  emptyPeriods,
  insertOrders,
  newClient,
  pdfText,
  pollUntilDone,
  startApp,
  sweeperOf,
  TestApp,
} from '../support/harness';
import { exited, killGroup, spawnWorker } from '../support/processes';
import { S3_CREDENTIALS, startS3Server } from '../support/s3-server';
import { TcpProxy } from '../support/tcp-proxy';

const BUCKET = 'reports';
const PREFIX = 'pdfs/eu';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const etagOf = (pdf: Buffer) => `"${createHash('sha256').update(pdf).digest('base64url')}"`;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Asks until `done` holds of the answer, or `seconds` pass: then the last answer. */
async function until<T>(ask: () => Promise<T>, done: (answer: T) => boolean, seconds = 60) {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const answer = await ask();
    if (done(answer) || Date.now() > deadline) return answer;
    await sleep(250);
  }
}

describe('PDFs in object storage (REPORT_STORAGE=s3://…), against a real S3-protocol server', () => {
  let s3: Awaited<ReturnType<typeof startS3Server>>;
  /** Between the service and the S3 server: the bucket can go away and come back. */
  let proxy: TcpProxy;
  /** An API process (in this one), streaming PDFs; no sweep runs but the ones called here. */
  let test: TestApp;
  /** An API process answering 307 to the object (REPORT_DOWNLOAD=redirect). */
  let redirecting: TestApp;
  const processes: ChildProcess[] = [];
  let sweeper: ReportSweeper;
  /** The spec's own view of the bucket, straight to the server. */
  let direct: S3Client;
  const clients: string[] = [];

  beforeAll(async () => {
    s3 = await startS3Server(BUCKET);
    proxy = await TcpProxy.for(s3.url).start();
    const storage = {
      REPORT_STORAGE: `s3://${BUCKET}/${PREFIX}`,
      AWS_ENDPOINT_URL_S3: proxy.url(s3.url).replace(/\/$/, ''),
      S3_FORCE_PATH_STYLE: 'true',
      AWS_REGION: 'us-east-1',
      ...S3_CREDENTIALS,
      // An attempt that fails while the bucket is away is tried again with backoff (2, 4, 8… s).
      RENDER_ATTEMPTS: '5',
    };
    // The specs poll every 250 ms.
    test = await startApp({ APP_ROLE: 'api', RATE_LIMIT_STATUS_PER_MINUTE: '100000', ...storage });
    processes.push(spawnWorker({ ...storage, SWEEP_INTERVAL_MS: '3600000' }));
    const port = await freePort();
    processes.push(
      spawnWorker({ ...storage, APP_ROLE: 'api', PORT: String(port), REPORT_DOWNLOAD: 'redirect' }),
    );
    redirecting = { url: `http://127.0.0.1:${port}` } as TestApp;
    await until(
      () =>
        fetch(`${redirecting.url}/health`).then(
          (r) => r.status,
          () => 0,
        ),
      (status) => status === 200,
    );
    sweeper = sweeperOf(test);
    direct = new S3Client({
      endpoint: s3.url,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      requestChecksumCalculation: 'WHEN_REQUIRED',
    });
  }, 120_000);

  afterAll(async () => {
    for (const child of processes) killGroup(child, 'SIGKILL');
    await Promise.all(processes.map(exited));
    if (clients.length) {
      await test.dataSource.query(`DELETE FROM clients WHERE id = ANY($1::uuid[])`, [clients]);
    }
    await test.close();
    direct.destroy();
    await proxy.stop();
    await s3.stop();
  });

  const shop = async (name: string) => {
    const client = await newClient(test, name);
    clients.push(client.id);
    return client;
  };
  const objectsOf = async (id: string) =>
    (
      (await direct.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: `${PREFIX}/${id}/` })))
        .Contents ?? []
    ).map(({ Key }) => Key);
  const objectBytes = async (key: string) =>
    Buffer.from(
      await (
        await direct.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }))
      ).Body!.transformToByteArray(),
    );
  const row = async (id: string) =>
    (
      await test.dataSource.query(
        `SELECT status, pdf_attempt AS "pdfAttempt", render_attempts AS "renderAttempts",
                pdf_purge_at AS "purgeAt",
                (SELECT count(*)::int FROM report_file_chunks WHERE report_id = $1) AS chunks
           FROM reports WHERE id = $1`,
        [id],
      )
    )[0] as {
      status: string;
      pdfAttempt: number;
      renderAttempts: number;
      purgeAt: Date | null;
      chunks: number;
    };
  const health = () => call(test, 'GET', '/health');
  const periods = emptyPeriods(2033);

  it('stores the PDF in the bucket and none of it in Postgres, and streams it with its ETag (304 when it matches)', async () => {
    const client = await shop('Bucket');
    const orders = generateOrders(30, '2031-03-01', '2031-03-02');
    await insertOrders(test, client.id, orders);
    const { done, pdf } = await downloadReport(test, client.api_key, {
      start_date: '2031-03-01',
      end_date: '2031-03-02',
    });
    const id = done.body.id as string;

    expect(pdf.bytes.subarray(0, 5).toString()).toBe('%PDF-');
    expect(pdf.headers.get('etag')).toBe(etagOf(pdf.bytes));
    expect(Number(pdf.headers.get('content-length'))).toBe(pdf.bytes.length);
    expect(pdf.headers.get('content-disposition')).toBe(
      'attachment; filename="orders-report-2031-03-01-2031-03-02.pdf"',
    );
    const text = await pdfText(pdf.bytes);
    for (const { number } of orders) expect(text).toContain(number);

    const stored = await row(id);
    expect(stored.chunks).toBe(0);
    const key = `${PREFIX}/${id}/${stored.pdfAttempt}.pdf`;
    expect(await objectsOf(id)).toEqual([key]);
    expect((await objectBytes(key)).equals(pdf.bytes)).toBe(true);

    const again = await call(test, 'GET', `/v1/orders/reports/${id}`, {
      key: client.api_key,
      headers: { 'if-none-match': pdf.headers.get('etag')! },
    });
    expect(again.status).toBe(304);
    expect(again.headers.get('etag')).toBe(pdf.headers.get('etag'));
    expect(again.bytes.length).toBe(0);
  });

  it('answers 307 to a presigned URL with REPORT_DOWNLOAD=redirect: the same bytes, fetched without the API key', async () => {
    const client = await shop('Redirect');
    await insertOrders(test, client.id, generateOrders(12, '2031-04-01', '2031-04-02'));
    const { done, pdf } = await downloadReport(test, client.api_key, {
      start_date: '2031-04-01',
      end_date: '2031-04-02',
    });
    const id = done.body.id as string;

    // The status route's 303 is the same from either API process.
    const status = await call(redirecting, 'GET', `/v1/orders/reports/status/${id}`, {
      key: client.api_key,
    });
    expect(status.status).toBe(303);
    expect(status.headers.get('location')).toBe(`/v1/orders/reports/${id}`);

    const redirect = await call(redirecting, 'GET', `/v1/orders/reports/${id}`, {
      key: client.api_key,
    });
    expect(redirect.status).toBe(307);
    expect(redirect.headers.get('cache-control')).toBe('private, no-store');
    const location = redirect.headers.get('location')!;
    expect(location.startsWith(`${proxy.url(s3.url)}${BUCKET}/${PREFIX}/${id}/`)).toBe(true);
    expect(new URL(location).searchParams.get('X-Amz-Expires')).toBe('300');

    const object = await fetch(location, { redirect: 'manual' });
    expect(object.status).toBe(200);
    expect(Buffer.from(await object.arrayBuffer()).equals(pdf.bytes)).toBe(true);
    // The redirect says what the object's bytes must hash to (RFC 9530), as the streamed answer does.
    const digest = createHash('sha256').update(pdf.bytes).digest('base64');
    expect(redirect.headers.get('repr-digest')).toBe(`sha-256=:${digest}:`);
    expect(pdf.headers.get('repr-digest')).toBe(`sha-256=:${digest}:`);
    expect(object.headers.get('content-type')).toBe('application/pdf');
    expect(object.headers.get('content-disposition')).toBe(
      'attachment; filename="orders-report-2031-04-01-2031-04-02.pdf"',
    );

    const notModified = await call(redirecting, 'GET', `/v1/orders/reports/${id}`, {
      key: client.api_key,
      headers: { 'if-none-match': pdf.headers.get('etag')! },
    });
    expect(notModified.status).toBe(304);
    // The route itself still needs the key.
    expect((await call(redirecting, 'GET', `/v1/orders/reports/${id}`)).status).toBe(401);
  });

  it('deletes the object after DELETE and after expiry; a delete that fails stays due and the next sweep does it', async () => {
    const client = await shop('Purge');
    const deleted = (await downloadReport(test, client.api_key, periods())).done.body.id as string;
    const expiring = (await downloadReport(test, client.api_key, periods())).done.body.id as string;
    expect(await objectsOf(deleted)).toHaveLength(1);
    expect(await objectsOf(expiring)).toHaveLength(1);

    // DELETE: EXPIRED at once; the object outlives it by the grace (a download under way ends whole).
    expect(
      (await call(test, 'DELETE', `/v1/orders/reports/${deleted}`, { key: client.api_key })).status,
    ).toBe(204);
    expect(
      (await call(test, 'GET', `/v1/orders/reports/${deleted}`, { key: client.api_key })).status,
    ).toBe(410);
    await test.dataSource.query(`UPDATE reports SET pdf_purge_at = now() WHERE id = $1`, [deleted]);
    await sweeper.sweep();
    expect(await objectsOf(deleted)).toEqual([]);
    expect((await row(deleted)).purgeAt).toBeNull();

    // Past REPORT_TTL_HOURS, with the bucket away when its grace ends.
    await test.dataSource.query(
      `UPDATE reports SET completed_at = now() - interval '200 hours' WHERE id = $1`,
      [expiring],
    );
    expect((await sweeper.sweep()).expired).toBeGreaterThanOrEqual(1);
    expect((await row(expiring)).status).toBe('EXPIRED');
    await test.dataSource.query(`UPDATE reports SET pdf_purge_at = now() WHERE id = $1`, [
      expiring,
    ]);
    await proxy.cut();
    try {
      await sweeper.sweep();
      expect(await objectsOf(expiring)).toHaveLength(1);
      expect((await row(expiring)).purgeAt).not.toBeNull();
    } finally {
      await proxy.restore();
    }
    await sweeper.sweep();
    expect(await objectsOf(expiring)).toEqual([]);
    expect((await row(expiring)).purgeAt).toBeNull();
  });

  it('fails the attempt while the bucket is unreachable (/health says so), and completes the report once it is back', async () => {
    const up = await until(health, (answer) => answer.status === 200);
    expect(up.body.details.bucket).toEqual({ status: 'up' });

    const client = await shop('Outage');
    const orders = generateOrders(25, '2031-05-01', '2031-05-02');
    await insertOrders(test, client.id, orders);
    await proxy.cut();
    let accepted: Answer;
    try {
      const down = await until(health, (answer) => answer.status === 503);
      expect(down.status).toBe(503);
      expect(down.body.error_code).toBe('SERVICE_UNAVAILABLE');
      expect(down.body.error_message).toContain('bucket');
      expect(down.headers.get('retry-after')).toBeTruthy();

      accepted = await call(test, 'POST', '/v1/orders/reports', {
        key: client.api_key,
        json: { start_date: '2031-05-01', end_date: '2031-05-02' },
      });
      expect(accepted.status).toBe(202);
      // Tried, failed on the upload, and tried again: still unfinished.
      const tried = await until(
        () => row(accepted.body.id),
        (state) => state.renderAttempts >= 2,
        90,
      );
      expect(tried.renderAttempts).toBeGreaterThanOrEqual(2);
      expect(['PENDING', 'IN_PROGRESS']).toContain(tried.status);
    } finally {
      await proxy.restore();
    }

    const done = await pollUntilDone(test, client.api_key, accepted.headers.get('location')!, 120);
    expect(done.status).toBe(303);
    const pdf = await call(test, 'GET', done.headers.get('location')!, { key: client.api_key });
    expect(pdf.status).toBe(200);
    const text = await pdfText(pdf.bytes);
    for (const { number } of orders) expect(text).toContain(number);
    const stored = await row(accepted.body.id);
    expect(await objectsOf(accepted.body.id)).toEqual([
      `${PREFIX}/${accepted.body.id}/${stored.pdfAttempt}.pdf`,
    ]);
    expect((await until(health, (answer) => answer.status === 200)).status).toBe(200);
  }, 240_000);

  it('aborts a multipart upload cut mid-way: no parts are left, and the next attempt stores the whole PDF', async () => {
    const client = await shop('Cut');
    // About 6 MB of PDF: more than one 5 MiB part.
    await insertOrders(test, client.id, generateOrders(48_000, '2032-01-01', '2032-02-01'));
    // Cut once 2 MiB of the first part have gone towards the bucket.
    const cut = proxy.cutAfter(2 * 1024 * 1024);
    const accepted = await call(test, 'POST', '/v1/orders/reports', {
      key: client.api_key,
      json: { start_date: '2032-01-01', end_date: '2032-02-01' },
    });
    expect(accepted.status).toBe(202);
    await cut;
    // Its parts are in the bucket, and cannot be aborted while it is away.
    const begun = await direct.send(new ListMultipartUploadsCommand({ Bucket: BUCKET }));
    expect(begun.Uploads?.map(({ Key }) => Key)).toEqual([
      expect.stringMatching(new RegExp(`^${PREFIX}/${accepted.body.id}/\\d+\\.pdf$`)),
    ]);
    await sleep(1500);
    await proxy.restore();

    const done = await pollUntilDone(test, client.api_key, accepted.headers.get('location')!, 240);
    expect(done.status).toBe(303);
    const stored = await row(accepted.body.id);
    expect(stored.renderAttempts).toBeGreaterThanOrEqual(2);
    expect(stored.chunks).toBe(0);
    const pdf = await call(test, 'GET', done.headers.get('location')!, { key: client.api_key });
    expect(pdf.status).toBe(200);
    expect(pdf.bytes.length).toBeGreaterThan(5 * 1024 * 1024);
    expect(pdf.headers.get('etag')).toBe(etagOf(pdf.bytes));
    expect(await objectsOf(accepted.body.id)).toEqual([
      `${PREFIX}/${accepted.body.id}/${stored.pdfAttempt}.pdf`,
    ]);

    // The cut upload's abort may still be on its way (tried again while the bucket was away).
    const uploads = await until(
      async () =>
        (await direct.send(new ListMultipartUploadsCommand({ Bucket: BUCKET }))).Uploads ?? [],
      (left) => left.length === 0,
      60,
    );
    expect(uploads).toEqual([]);
  }, 360_000);
});
