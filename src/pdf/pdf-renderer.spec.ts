import { readFileSync } from 'node:fs';
import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { findChromium } from '../config/environment';
import { memorySink } from './pdf-join';
import { PdfRenderer } from './pdf-renderer.service';
import { processTree } from './process-tree';
import { PdfError } from './pdf-error';
import { DocumentHeader, DocumentBuilder, DocumentPart, OrderRow } from './template';

// Integration spec: drives the real system Chromium, nothing is mocked.
jest.setTimeout(60000);

// pdf-parse's index.js runs a debug self-test when required directly.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const pdfParse = require('pdf-parse/lib/pdf-parse.js') as (
  data: Buffer,
) => Promise<{ text: string; numpages: number }>;

const executablePath = findChromium() ?? '/usr/bin/chromium';

function renderer(overrides: Partial<ConstructorParameters<typeof PdfRenderer>[0]> = {}) {
  return new PdfRenderer({
    executablePath,
    concurrency: 2,
    timeoutMs: 30000,
    attempts: 3,
    rowsPerPage: 52,
    rowsPerPart: 1000,
    recycleAfter: 0,
    recycleRssMb: 0,
    ...overrides,
  });
}

const header: DocumentHeader = {
  clientName: 'Acme Shop',
  startDate: '2021-10-01',
  endDate: '2021-11-01',
  generatedAt: new Date('2021-11-02T08:15:00Z'),
};

function row(i: number, overrides: Partial<OrderRow> = {}): OrderRow {
  return {
    number: `ORD-${String(i).padStart(6, '0')}`,
    placedAt: new Date(Date.UTC(2021, 9, 1) + i * 60_000),
    customerName: `Customer ${i}`,
    status: 'delivered',
    itemCount: 1 + (i % 5),
    total: '10.10',
    currency: i % 2 ? 'USD' : 'EUR',
    ...overrides,
  };
}

function report(rows: OrderRow[], rowsPerPage = 52): DocumentPart[] {
  const builder = new DocumentBuilder(
    header,
    rowsPerPage,
    DocumentBuilder.partRows(rows.length, 1000),
  );
  builder.addRows(rows);
  return builder.finish();
}

/** Renders into memory: the PDF's bytes. */
async function print(pdfRenderer: PdfRenderer, parts: DocumentPart[]): Promise<Buffer> {
  const output = memorySink();
  await pdfRenderer.render(parts, output.sink);
  return output.pdf();
}

async function pdfText(pdf: Buffer): Promise<string> {
  return (await pdfParse(pdf)).text;
}

describe('PdfRenderer (real Chromium)', () => {
  const pdfRenderer = renderer();
  let server: Server;
  let port: number;
  const requests: string[] = [];
  /** Every TCP connection the listener accepted, requests or none (a preconnect sends none). */
  let connections = 0;

  beforeAll(async () => {
    server = createServer((req, res) => {
      requests.push(req.url ?? '');
      res.end('x');
    });
    server.on('connection', () => (connections += 1));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    await pdfRenderer.onApplicationShutdown();
    await new Promise((resolve) => server.close(resolve));
  });

  it('prints the order numbers, the totals and "Page 1 of 1" as real text', async () => {
    const pdf = await print(pdfRenderer, report([row(1), row(2), row(3)]));
    const text = await pdfText(pdf);

    expect(pdf.subarray(0, 5).toString()).toBe('%PDF-');
    expect(text).toContain('Orders report');
    expect(text).toContain('1 Oct 2021 – 31 Oct 2021 (UTC)');
    for (const number of ['ORD-000001', 'ORD-000002', 'ORD-000003']) expect(text).toContain(number);
    expect(text).toContain('20.20 USD');
    expect(text).toContain('10.10 EUR');
    expect(text).toContain('Page 1 of 1');
  });

  it('prints "No orders in this period" for an empty report', async () => {
    const text = await pdfText(await print(pdfRenderer, report([])));

    expect(text).toContain('No orders in this period');
    expect(text).toContain('Page 1 of 1');
  });

  it('numbers pages "Page X of Y" across a multi-page report', async () => {
    const rows = Array.from({ length: 120 }, (_, i) => row(i));
    const pdf = await print(pdfRenderer, report(rows));
    const { numpages, text } = await pdfParse(pdf);

    expect(numpages).toBeGreaterThan(1);
    expect(text).toContain(`Page 1 of ${numpages}`);
    expect(text).toContain(`Page ${numpages} of ${numpages}`);
  });

  it('prints one block of orders per page, each page headed by the column headings', async () => {
    // Every fifth name is long enough to wrap onto a second line: the block must still fit.
    const rows = Array.from({ length: 2500 }, (_, i) =>
      row(
        i,
        i % 5 ? {} : { customerName: `Wolfeschlegelsteinhausenbergerdorff ${'Q'.repeat(40)}` },
      ),
    );
    const parts = report(rows);
    const blocks =
      parts
        .map((part) => part.html)
        .join('')
        .split('<section class="orders"').length - 1;
    const { numpages, text } = await pdfParse(await print(pdfRenderer, parts));

    expect(parts.length).toBeGreaterThan(1);
    expect(numpages).toBe(blocks);
    expect(text.match(/Order number/g)).toHaveLength(numpages);
    expect(text).toContain(`Page ${numpages} of ${numpages}`);
  });

  it('prints an img tag in a customer name as text and sends no request', async () => {
    const img = `<img src="http://127.0.0.1:${port}/escaped">`;
    const text = await pdfText(await print(pdfRenderer, report([row(1, { customerName: img })])));

    expect(text.replace(/\s+/g, '')).toContain(img.replace(/\s+/g, ''));
    expect(requests).toEqual([]);
  });

  it('blocks every request of an unescaped document: http, file, iframe, stylesheet', async () => {
    const base = `http://127.0.0.1:${port}`;
    const html =
      `<html><head><link rel="stylesheet" href="${base}/css"></head><body>` +
      `<p>RAW DOCUMENT</p><img src="${base}/img"><iframe src="${base}/frame"></iframe>` +
      `<iframe src="file:///etc/passwd"></iframe><div style="background:url(${base}/bg)">bg</div>` +
      `<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw="></body></html>`;
    const text = await pdfText(await print(pdfRenderer, [{ index: 0, html }]));

    expect(text).toContain('RAW DOCUMENT');
    expect(text).not.toContain('root:');
    // Leave time for a late request to arrive if one were allowed.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(requests).toEqual([]);
  });

  it('reaches nothing from raw, unescaped HTML: no request and no connection, whatever asks', async () => {
    const base = `http://127.0.0.1:${port}`;
    const named = `http://localhost:${port}`;
    // No CSP and nothing escaped: only the browser's own isolation stands.
    const html =
      '<html><head>' +
      `<link rel="prefetch" href="${base}/prefetch"><link rel="preconnect" href="${base}">` +
      `<link rel="preconnect" href="${named}"><link rel="dns-prefetch" href="${named}">` +
      `<link rel="preload" as="image" href="${base}/preload">` +
      `<style>@import url("${base}/import.css"); body { background: url("${base}/bg.png") }</style>` +
      `<link rel="stylesheet" href="${named}/css">` +
      `</head><body><p>RAW DOCUMENT</p><iframe src="${base}/frame"></iframe>` +
      `<object data="${base}/object"></object><embed src="${named}/embed">` +
      `<img src="file:///etc/hostname"><iframe src="file:///etc/passwd"></iframe>` +
      `<video poster="${base}/poster"></video><a ping="${base}/ping" href="${base}">link</a>` +
      '</body></html>';
    const before = connections;
    const text = await pdfText(await print(pdfRenderer, [{ index: 0, html }]));
    expect(text).toContain('RAW DOCUMENT');
    expect(text).not.toContain('root:');
    const refresh = `<meta http-equiv="refresh" content="0;url=${base}/refresh"><p>REFRESH</p>`;
    await print(pdfRenderer, [{ index: 0, html: refresh }]).catch(() => undefined);
    // Leave time for a late connection to arrive if one were allowed.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(requests).toEqual([]);
    expect(connections - before).toBe(0);
  });

  it('blocks a navigation away from the document (meta refresh)', async () => {
    const html = `<meta http-equiv="refresh" content="0;url=http://127.0.0.1:${port}/refresh">`;
    // What matters is that nothing leaves the page. The blocked navigation may race the print and
    // fail it (seen once in about ten runs on a loaded machine): that outcome is fine too.
    await print(pdfRenderer, [{ index: 0, html }]).catch((error: unknown) => {
      expect(error).toBeInstanceOf(PdfError);
    });
    await new Promise((resolve) => setTimeout(resolve, 300));

    expect(requests).toEqual([]);
  });

  it('does not run scripts in the document', async () => {
    const html =
      '<html><body><p>STATIC TEXT</p>' +
      '<script>document.body.insertAdjacentText("beforeend", "SCRIPT" + "-RAN")</script>' +
      '<img src="data:," onerror="document.body.append(\'HANDLER\' + \'-RAN\')"></body></html>';
    const text = await pdfText(await print(pdfRenderer, [{ index: 0, html }]));

    expect(text).toContain('STATIC TEXT');
    expect(text).not.toContain('SCRIPT-RAN');
    expect(text).not.toContain('HANDLER-RAN');
  });

  it('warms up: Chromium runs before the first render, which then uses it', async () => {
    const warm = renderer();
    try {
      expect(warm.browserPid).toBeUndefined();
      await warm.warmUp();
      const pid = warm.browserPid;
      expect(pid).toEqual(expect.any(Number));
      expect(await pdfText(await print(warm, report([row(1)])))).toContain('ORD-000001');
      expect(warm.browserPid).toBe(pid);
      expect(warm.restarts).toBe(0);
    } finally {
      await warm.onApplicationShutdown();
    }
  });

  it('reuses one browser process across renders, concurrent ones included', async () => {
    const before = pdfRenderer.browserPid;
    await Promise.all([1, 2, 3, 4, 5].map((i) => print(pdfRenderer, report([row(i)]))));

    expect(before).toEqual(expect.any(Number));
    expect(pdfRenderer.browserPid).toBe(before);
    expect(pdfRenderer.restarts).toBe(0);
    expect(await pdfRenderer.ping()).toMatch(/Chrom/);
  });

  it('relaunches the browser after it is killed and counts the restart', async () => {
    await print(pdfRenderer, report([row(1)]));
    const pid = pdfRenderer.browserPid!;
    process.kill(pid, 'SIGKILL');
    // Let Puppeteer notice the dead pipe.
    for (let i = 0; i < 50 && pdfRenderer.browserPid !== undefined; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }

    const text = await pdfText(await print(pdfRenderer, report([row(7)])));

    expect(text).toContain('ORD-000007');
    expect(pdfRenderer.restarts).toBe(1);
    expect(pdfRenderer.browserPid).not.toBe(pid);
  });

  it('fails in-flight renders (a PdfError of kind failed) when the browser dies mid-render', async () => {
    const big = report(Array.from({ length: 5000 }, (_, i) => row(i)));
    await pdfRenderer.ping();
    const pid = pdfRenderer.browserPid!;
    const restartsBefore = pdfRenderer.restarts;
    const pending = print(pdfRenderer, big);
    setTimeout(() => process.kill(pid, 'SIGKILL'), 150);

    await expect(pending).rejects.toMatchObject({ kind: 'failed' });
    const text = await pdfText(await print(pdfRenderer, report([row(8)])));
    expect(text).toContain('ORD-000008');
    expect(pdfRenderer.restarts).toBe(restartsBefore + 1);
  });
});

describe('PdfRenderer timeout (real Chromium)', () => {
  const pdfRenderer = renderer({ timeoutMs: 1000, concurrency: 1 });

  afterAll(() => pdfRenderer.onApplicationShutdown());

  it('stops a render that exceeds timeoutMs (a PdfError of kind timeout) and keeps the pool usable', async () => {
    await pdfRenderer.ping();
    const huge = report(
      Array.from({ length: 30000 }, (_, i) => row(i)),
      40,
    );

    const started = Date.now();
    const error = await print(pdfRenderer, huge).catch((e: unknown) => e);
    const elapsed = Date.now() - started;

    expect(error).toBeInstanceOf(PdfError);
    expect(error).toMatchObject({ kind: 'timeout' });
    expect((error as Error).message).not.toContain('ORD-');
    // Not a speed check: printing 30,000 rows takes well over a minute, so an answer within 20 s
    // shows the render was stopped rather than awaited.
    expect(elapsed).toBeLessThan(20000);

    const text = await pdfText(await print(pdfRenderer, report([row(9)])));
    expect(text).toContain('ORD-000009');
    expect(pdfRenderer.restarts).toBe(0);
  });
});

describe('PdfRenderer recycling Chromium (real Chromium)', () => {
  const renderers: PdfRenderer[] = [];
  function recycling(overrides: Parameters<typeof renderer>[0]) {
    const made = renderer(overrides);
    renderers.push(made);
    return made;
  }
  afterAll(() => Promise.all(renderers.map((each) => each.onApplicationShutdown())));

  /** Waits, a bounded while, for something the renderer does in the background. */
  async function until(what: string, condition: () => boolean): Promise<void> {
    for (let i = 0; i < 600 && !condition(); i++) await new Promise((r) => setTimeout(r, 50));
    if (!condition()) throw new Error(`Never happened: ${what}`);
  }

  /** Running, and not a zombie waiting to be reaped. */
  function alive(pid: number): boolean {
    try {
      return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    } catch {
      return false;
    }
  }

  /** A two-part report whose second part comes only once `gate` opens: its render holds a page. */
  async function* heldUntil(gate: Promise<void>): AsyncIterable<DocumentPart> {
    const [first, second] = report(Array.from({ length: 1500 }, (_, i) => row(i)));
    yield first;
    await gate;
    yield second;
  }

  it('replaces the browser after recycleAfter renders, every render succeeding', async () => {
    const pdfRenderer = recycling({ recycleAfter: 3 });
    const texts = [await pdfText(await print(pdfRenderer, report([row(1)])))];
    const first = pdfRenderer.browserPid!;
    for (const i of [2, 3]) {
      texts.push(await pdfText(await print(pdfRenderer, report([row(i)]))));
      expect(pdfRenderer.browserPid).toBe(first);
    }

    await until('a fresh browser', () => pdfRenderer.browserPid !== first);
    // Several at once, across the next swap (3 renders later) too.
    const more = await Promise.all(
      [4, 5, 6, 7, 8, 9].map(async (i) => pdfText(await print(pdfRenderer, report([row(i)])))),
    );

    [...texts, ...more].forEach((text, i) => expect(text).toContain(row(i + 1).number));
    expect(pdfRenderer.recycles).toBeGreaterThanOrEqual(1);
    expect(pdfRenderer.restarts).toBe(0);
    await until('the replaced browser closed', () => !alive(first));
  });

  it('lets a render in progress finish on the old browser, then closes it', async () => {
    const pdfRenderer = recycling({ recycleAfter: 3 });
    await print(pdfRenderer, report([row(1)]));
    await print(pdfRenderer, report([row(2)]));
    const old = pdfRenderer.browserPid!;
    let open = (): void => undefined;
    const output = memorySink();
    const held = pdfRenderer.render(
      heldUntil(new Promise((resolve) => (open = resolve))),
      output.sink,
    );
    await print(pdfRenderer, report([row(3)])); // the 3rd render to end: the swap starts

    await until('a fresh browser', () => pdfRenderer.browserPid !== old);
    expect(pdfRenderer.browserPids).toEqual([pdfRenderer.browserPid, old]);
    const during = await pdfText(await print(pdfRenderer, report([row(4)])));
    open();

    await held;
    const text = await pdfText(output.pdf());
    expect(text).toContain('ORD-000000');
    expect(text).toContain('ORD-001499');
    expect(during).toContain('ORD-000004');
    await until('the old browser closed', () => pdfRenderer.browserPids.length === 1);
    expect(pdfRenderer.browserPids).toEqual([pdfRenderer.browserPid]);
    await until('its process gone', () => !alive(old));
    expect(pdfRenderer.recycles).toBe(1);
    expect(pdfRenderer.restarts).toBe(0);
  });

  it('replaces a browser whose processes pass recycleRssMb', async () => {
    const pdfRenderer = recycling({ recycleRssMb: 1 });
    await print(pdfRenderer, report([row(1)]));
    const first = pdfRenderer.browserPid!;

    await until('a fresh browser', () => pdfRenderer.browserPid !== first);
    const text = await pdfText(await print(pdfRenderer, report([row(2)])));

    expect(text).toContain('ORD-000002');
    expect(pdfRenderer.recycles).toBeGreaterThanOrEqual(1);
    expect(pdfRenderer.restarts).toBe(0);
  });

  it('shutdown closes the current browser and the replaced one still draining', async () => {
    const pdfRenderer = recycling({ recycleAfter: 3 });
    await print(pdfRenderer, report([row(1)]));
    await print(pdfRenderer, report([row(2)]));
    const old = pdfRenderer.browserPid!;
    let open = (): void => undefined;
    const held = pdfRenderer.render(
      heldUntil(new Promise((resolve) => (open = resolve))),
      memorySink().sink,
    );
    await print(pdfRenderer, report([row(3)]));
    await until('a fresh browser', () => pdfRenderer.browserPid !== old);
    const processes = pdfRenderer.browserPids.flatMap(processTree);

    await pdfRenderer.onApplicationShutdown();
    open(); // its next part goes to a closed page

    await expect(held).rejects.toBeInstanceOf(PdfError);
    expect(processes.length).toBeGreaterThan(2);
    await until('every Chromium process gone', () => !processes.some(alive));
    expect(pdfRenderer.browserPids).toEqual([]);
  });

  it('shutdown while a replacement is being launched closes it too', async () => {
    const others = processTree(process.pid); // this process and the other renderers' Chromiums
    const pdfRenderer = recycling({ recycleAfter: 1 });
    await print(pdfRenderer, report([row(1)])); // due: the replacement launches now
    expect(pdfRenderer.isRecycling).toBe(true);

    await pdfRenderer.onApplicationShutdown();

    expect(pdfRenderer.isRecycling).toBe(false);
    expect(pdfRenderer.recycles).toBe(0);
    const ours = () =>
      processTree(process.pid).filter((pid) => !others.includes(pid) && alive(pid));
    await until('no Chromium of this renderer left', () => ours().length === 0);
  });
});

describe('PdfRenderer sharing its pages between renders (real Chromium)', () => {
  const pdfRenderer = renderer({ concurrency: 2 });
  afterAll(() => pdfRenderer.onApplicationShutdown());

  it('starts another render while a long one that borrowed every page waits for its next part', async () => {
    await pdfRenderer.warmUp();
    let printing = (): void => undefined;
    const bothPagesBusy = new Promise<void>((resolve) => (printing = resolve));
    let open = (): void => undefined;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const parts = report(Array.from({ length: 4000 }, (_, i) => row(i)));
    /** Two parts printing on the worker's two pages; after a third, nothing until `gate` opens. */
    async function* longReport(): AsyncIterable<DocumentPart> {
      yield parts[0];
      yield parts[1];
      printing();
      yield parts[2];
      await gate;
      yield* parts.slice(3);
    }
    const output = memorySink();
    const long = pdfRenderer.render(longReport(), output.sink, parts.length);
    await bothPagesBusy;

    // Before, the long render kept both pages until its end: this one waited for it, for ever.
    const small = await pdfText(await print(pdfRenderer, report([row(7)])));
    open();
    await long;

    expect(small).toContain('ORD-000007');
    const text = await pdfText(output.pdf());
    expect(text).toContain('ORD-000000');
    expect(text).toContain('ORD-003999');
  });
});
