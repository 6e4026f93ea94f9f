import { createServer } from 'node:http';
import { AddressInfo, connect } from 'node:net';
import type { Browser } from 'puppeteer';
import { canBeFramed, launchBrowser, recordCspViolations, WAIT } from '../support/browser';
import { Answer, call, downloadReport, newClient, startApp, TestApp } from '../support/harness';

const ADMIN_TOKEN = 'security-headers-admin-token-0123456789';
const ADMIN = { authorization: `Bearer ${ADMIN_TOKEN}` };

/** A Content-Security-Policy header as its directives: name → sources. */
function csp(answer: Answer): Record<string, string[]> {
  const header = answer.headers.get('content-security-policy') ?? '';
  return Object.fromEntries(
    header
      .split(';')
      .map((directive) => directive.trim().split(/\s+/))
      .filter(([name]) => name)
      .map(([name, ...sources]) => [name, sources]),
  );
}

function expectNotFramedNorSniffed(answer: Answer): void {
  expect(answer.headers.get('x-content-type-options')).toBe('nosniff');
  expect(answer.headers.get('x-frame-options')).toBe('DENY');
  expect(csp(answer)['frame-ancestors']).toEqual(["'none'"]);
}

/** The API's answers load nothing and may be framed by nothing. */
function expectStrictApiHeaders(answer: Answer): void {
  expectNotFramedNorSniffed(answer);
  expect(csp(answer)['default-src']).toEqual(["'none'"]);
}

/** One request written on a socket, as a client Node's HTTP parser refuses would; the raw answer. */
function rawExchange(url: string, request: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.write(request));
    let text = '';
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
    socket.on('close', () => resolve(text));
    socket.on('error', reject);
  });
}

describe('Security headers on every kind of answer', () => {
  let test: TestApp;
  let key: string;

  beforeAll(async () => {
    test = await startApp({ ADMIN_TOKEN });
    key = (await newClient(test, 'Headers Shop')).api_key;
  });
  afterAll(() => test.close());

  it('gives JSON answers, errors, /health, /metrics and the OpenAPI document nosniff and a CSP that loads nothing and forbids framing', async () => {
    const answers: [string, Answer][] = [
      ['GET /v1/orders', await call(test, 'GET', '/v1/orders', { key })],
      [
        'POST /v1/orders/reports',
        await call(test, 'POST', '/v1/orders/reports', {
          key,
          json: { start_date: '2030-02-01', end_date: '2030-02-02' },
        }),
      ],
      ['400', await call(test, 'POST', '/v1/orders/reports', { key, json: { start_date: 'x' } })],
      ['401', await call(test, 'GET', '/v1/orders')],
      ['404', await call(test, 'GET', '/no/such/route')],
      ['415', await call(test, 'POST', '/v1/orders', { key, body: 'x' })],
      ['/health', await call(test, 'GET', '/health')],
      ['/metrics', await call(test, 'GET', '/metrics')],
      ['/docs-json', await call(test, 'GET', '/docs-json')],
    ];
    expect(answers.map(([name, answer]) => [name, answer.status])).toEqual([
      ['GET /v1/orders', 200],
      ['POST /v1/orders/reports', 202],
      ['400', 400],
      ['401', 401],
      ['404', 404],
      ['415', 415],
      ['/health', 200],
      ['/metrics', 200],
      ['/docs-json', 200],
    ]);
    for (const [, answer] of answers) expectStrictApiHeaders(answer);
  });

  it('gives the PDF download nosniff and the same strict CSP', async () => {
    const { pdf } = await downloadReport(test, key, {
      start_date: '2030-03-01',
      end_date: '2030-03-02',
    });
    expect(pdf.headers.get('content-type')).toBe('application/pdf');
    expectStrictApiHeaders(pdf);
  });

  it("gives Fastify's own refusals, sent before any hook runs (a malformed URL, a path segment too long), the same headers", async () => {
    const malformed = await call(test, 'GET', '/v1/orders/%zz', { key });
    expect(malformed.status).toBe(400);
    const tooLong = await call(test, 'GET', `/v1/orders/${'a'.repeat(600)}`, { key });
    expect(tooLong.status).toBe(414);
    for (const answer of [malformed, tooLong]) expectStrictApiHeaders(answer);
  });

  it("gives the raw answers to requests Node's HTTP server refuses (headers too large) nosniff", async () => {
    const text = await rawExchange(
      test.url,
      `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
    );
    expect(text).toMatch(/^HTTP\/1\.1 431 /);
    expect(text).toMatch(/\r\nX-Content-Type-Options: nosniff\r\n/i);
  });

  it('gives /docs and its assets a CSP without unsafe-eval nor inline scripts, that forbids framing', async () => {
    const page = await call(test, 'GET', '/docs');
    const init = await call(test, 'GET', '/docs/swagger-ui-init.js');
    expect([page.status, init.status]).toEqual([200, 200]);
    for (const answer of [page, init]) {
      expectNotFramedNorSniffed(answer);
      const policy = csp(answer);
      expect(policy['script-src']).toEqual(["'self'"]);
      expect(answer.headers.get('content-security-policy')).not.toContain('unsafe-eval');
      expect(policy['connect-src']).toEqual(["'self'"]);
    }
  });

  it('gives /admin/queues, its page, API, assets and refusals, no-store and a CSP that forbids framing', async () => {
    const page = await call(test, 'GET', '/admin/queues', { headers: ADMIN });
    expect(page.status).toBe(200);
    const assets = [...page.bytes.toString().matchAll(/(?:src|href)="(static\/[^"]+)"/g)].map(
      (match) => `/admin/queues/${match[1]}`,
    );
    expect(assets.some((path) => path.endsWith('.js'))).toBe(true);
    expect(assets.some((path) => path.endsWith('.css'))).toBe(true);
    const answers = [
      page,
      await call(test, 'GET', '/admin/queues/api/queues', { headers: ADMIN }),
      await call(test, 'GET', '/admin/queues'),
    ];
    for (const path of assets) answers.push(await call(test, 'GET', path, { headers: ADMIN }));
    expect(answers.map((answer) => answer.status)).toEqual([
      200,
      200,
      401,
      ...assets.map(() => 200),
    ]);
    for (const answer of answers) {
      expectNotFramedNorSniffed(answer);
      expect(answer.headers.get('cache-control')).toBe('no-store');
      expect(csp(answer)['script-src']).toEqual(["'self'"]);
    }
  });

  describe('in Chromium', () => {
    let browser: Browser;

    beforeAll(async () => {
      browser = await launchBrowser();
    });
    afterAll(() => browser?.close());

    it('runs the dashboard under its CSP: the queues are listed and no violation is reported', async () => {
      const page = await browser.newPage();
      page.setDefaultTimeout(WAIT.timeout);
      const violations = await recordCspViolations(page);
      await page.authenticate({ username: 'admin', password: ADMIN_TOKEN });
      const served = await page.goto(`${test.url}/admin/queues`, { waitUntil: 'load', ...WAIT });
      expect(served!.headers()['content-security-policy']).toContain("frame-ancestors 'none'");
      await page.waitForFunction(
        () =>
          document.body.innerText.includes('report-render') &&
          document.body.innerText.includes('callback-delivery'),
        WAIT,
      );
      await page.close();
      expect(violations).toEqual([]);
    });

    it('lets no page of another origin frame the dashboard or Swagger UI', async () => {
      // The other origin, whose own page sets no policy: that one can be framed.
      const other = createServer((_request, response) => response.end('<p>framed</p>'));
      await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
      try {
        const parent = `http://127.0.0.1:${(other.address() as AddressInfo).port}/`;
        expect(await canBeFramed(browser, parent, parent)).toBe(true);
        expect(
          await canBeFramed(browser, parent, `${test.url}/admin/queues`, {
            username: 'admin',
            password: ADMIN_TOKEN,
          }),
        ).toBe(false);
        expect(await canBeFramed(browser, parent, `${test.url}/docs`)).toBe(false);
      } finally {
        other.close();
      }
    });
  });
});
