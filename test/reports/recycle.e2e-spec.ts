import { generateOrders } from '../../src/orders/order-seed';
import { PdfRenderer } from '../../src/pdf/pdf-renderer.service';
import {
  call,
  downloadReport,
  insertOrders,
  newClient,
  parsePdf,
  startApp,
  TestApp,
} from '../support/harness';
import { eventually } from '../support/receiver';

/** The value of one series in a Prometheus text scrape, or undefined when absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((each) => each.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('Chromium recycled after RENDER_RECYCLE_AFTER renders', () => {
  let test: TestApp;

  beforeAll(async () => {
    test = await startApp({ RENDER_RECYCLE_AFTER: '2', RATE_LIMIT_STATUS_PER_MINUTE: '100000' });
  });
  afterAll(() => test.close());

  it('replaces the browser after 2 reports; the next report completes (303, valid PDF)', async () => {
    const shop = await newClient(test);
    const orders = generateOrders(50, '2061-03-01', '2061-04-01');
    await insertOrders(test, shop.id, orders);
    const renderer = test.app.get(PdfRenderer);
    await renderer.ping();
    const first = renderer.browserPid;

    /** POST, poll to 303, download: the PDF's text. */
    const report = async (): Promise<string> => {
      const { pdf } = await downloadReport(test, shop.api_key, {
        start_date: '2061-03-01',
        end_date: '2061-04-01',
      });
      expect(pdf.bytes.subarray(0, 5).toString()).toBe('%PDF-');
      return (await parsePdf(pdf.bytes)).text;
    };
    await report();
    expect(renderer.browserPid).toBe(first);
    await report();

    await eventually(async () => renderer.recycles === 1 && !renderer.isRecycling, 60);
    expect(renderer.browserPid).not.toBe(first);
    expect(renderer.browserPids).toEqual([renderer.browserPid]);
    // Order numbers may wrap in their column: compared without whitespace.
    const text = (await report()).replace(/\s+/g, '');

    for (const { number } of orders) expect(text).toContain(number);
    const metrics = (await call(test, 'GET', '/metrics')).bytes.toString('utf8');
    expect(sample(metrics, 'reports_chromium_recycles_total{reason="renders"}')).toBe(1);
    expect(sample(metrics, 'reports_chromium_restarts_total')).toBe(0);
    expect(renderer.restarts).toBe(0);
  });
});
