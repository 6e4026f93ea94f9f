import { createHash } from 'node:crypto';
import { PDFDocument } from 'pdf-lib';
import { Webhook } from 'standardwebhooks';
import { generateOrders } from '../../src/orders/order-seed';
import {
  call,
  insertOrders,
  newClient,
  pollUntilDone,
  startApp,
  TestApp,
} from '../support/harness';
import { pdfinfo } from '../support/pdf-tools';
import { eventually, Receiver } from '../support/receiver';

/** What a client computes from the bytes it downloaded: `sha256sum` (hex) and base64. */
function digestOf(pdf: Buffer) {
  const digest = createHash('sha256').update(pdf);
  const raw = digest.digest();
  return { hex: raw.toString('hex'), base64: raw.toString('base64') };
}

describe('A PDF a client can verify: pdf {bytes, pages, sha256} and Repr-Digest', () => {
  let test: TestApp;
  let receiver: Receiver;
  let shop: { id: string; api_key: string; webhook_secret: string };

  beforeAll(async () => {
    receiver = await new Receiver().start();
    test = await startApp({ CALLBACK_ALLOW_PRIVATE_NETWORKS: 'true' });
    shop = await newClient(test);
    // Enough orders for several pages (about 40 fit on one).
    await insertOrders(test, shop.id, generateOrders(150, '2062-01-01', '2062-02-01'));
  });
  afterAll(async () => {
    await test.close();
    await receiver.stop();
  });

  it("gives, in the signed callback and the status route's 303, the downloaded PDF's length, page count and SHA-256, and the same digest in Repr-Digest on GET and HEAD", async () => {
    const callbackUrl = receiver.script('/digest', { status: 204 });
    const accepted = await call(test, 'POST', '/v1/orders/reports', {
      key: shop.api_key,
      json: { start_date: '2062-01-01', end_date: '2062-02-01', callback_url: callbackUrl },
    });
    expect(accepted.status).toBe(202);
    const id = accepted.body.id as string;
    const done = await pollUntilDone(test, shop.api_key, accepted.headers.get('location')!);
    expect(done.status).toBe(303);
    const [delivery] = await eventually(
      async () => receiver.at('/digest').length > 0 && receiver.at('/digest'),
    );
    const callback = new Webhook(shop.webhook_secret).verify(
      delivery.body,
      delivery.headers as Record<string, string>,
    ) as { pdf: unknown };

    // The partner follows the callback's link (relative here: PUBLIC_BASE_URL is the test's).
    const pdf = await call(test, 'GET', `/v1/orders/reports/${id}`, { key: shop.api_key });
    expect(pdf.status).toBe(200);
    const { hex, base64 } = digestOf(pdf.bytes);
    const pages = Number((await pdfinfo(pdf.bytes)).Pages);
    expect(pages).toBeGreaterThanOrEqual(3);
    expect((await PDFDocument.load(pdf.bytes)).getPageCount()).toBe(pages);

    const expected = { bytes: pdf.bytes.length, pages, sha256: hex };
    expect(callback.pdf).toEqual(expected);
    expect(done.body.pdf).toEqual(expected);
    // The contract's field order: id, status, pdf, links.
    expect(Object.keys(JSON.parse(delivery.body))).toEqual(['id', 'status', 'pdf', 'links']);
    expect(Object.keys(JSON.parse(delivery.body).pdf)).toEqual(['bytes', 'pages', 'sha256']);

    expect(pdf.headers.get('repr-digest')).toBe(`sha-256=:${base64}:`);
    expect(Number(pdf.headers.get('content-length'))).toBe(pdf.bytes.length);

    const head = await call(test, 'HEAD', `/v1/orders/reports/${id}`, { key: shop.api_key });
    expect(head.status).toBe(200);
    expect(head.bytes).toHaveLength(0);
    expect(head.headers.get('repr-digest')).toBe(`sha-256=:${base64}:`);
    expect(head.headers.get('etag')).toBe(pdf.headers.get('etag'));
    expect(Number(head.headers.get('content-length'))).toBe(pdf.bytes.length);
  });

  it('gives a report completed before pages were counted its length and SHA-256, with pages null, and the same Repr-Digest', async () => {
    const accepted = await call(test, 'POST', '/v1/orders/reports', {
      key: shop.api_key,
      json: { start_date: '2063-01-01', end_date: '2063-01-02' },
    });
    const id = accepted.body.id as string;
    expect(
      (await pollUntilDone(test, shop.api_key, accepted.headers.get('location')!)).status,
    ).toBe(303);
    // As the migration leaves a report that was COMPLETED before it.
    await test.dataSource.query(`UPDATE reports SET pdf_pages = NULL WHERE id = $1`, [id]);

    const done = await call(test, 'GET', `/v1/orders/reports/status/${id}`, { key: shop.api_key });
    expect(done.status).toBe(303);
    const pdf = await call(test, 'GET', `/v1/orders/reports/${id}`, { key: shop.api_key });
    expect(pdf.status).toBe(200);
    const { hex, base64 } = digestOf(pdf.bytes);
    expect(done.body).toEqual({
      id,
      status: 'COMPLETED',
      time_zone: 'UTC',
      pdf: { bytes: pdf.bytes.length, pages: null, sha256: hex },
      links: [{ rel: 'reports', href: `/v1/orders/reports/${id}` }],
    });
    expect(pdf.headers.get('repr-digest')).toBe(`sha-256=:${base64}:`);
  });
});
