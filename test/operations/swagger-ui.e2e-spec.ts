import type { Browser, Page } from 'puppeteer';
import { launchBrowser, recordCspViolations, WAIT } from '../support/browser';
import { call, newClient, startApp, TestApp } from '../support/harness';

const OPERATION = '#operations-reports-ReportsController_create';

describe('Swagger UI, used as a person uses it', () => {
  let test: TestApp;
  let browser: Browser;
  let page: Page;
  let key: string;
  let violations: string[];

  beforeAll(async () => {
    test = await startApp();
    key = (await newClient(test, 'Swagger UI Shop')).api_key;
    browser = await launchBrowser();
    page = await browser.newPage();
    violations = await recordCspViolations(page);
    page.setDefaultTimeout(WAIT.timeout);
    await page.setViewport({ width: 1280, height: 1600 });
  });

  afterAll(async () => {
    await browser?.close();
    await test?.close();
  });

  it('authorizes with the API key, tries POST /v1/orders/reports and gets a live 202, under its CSP and keeping the key out of storage', async () => {
    const served = await page.goto(`${test.url}/docs`, {
      waitUntil: 'load',
      timeout: WAIT.timeout,
    });
    expect(served!.headers()['content-security-policy']).toContain("frame-ancestors 'none'");

    // Authorize: type the key into the bearer field, confirm, close the dialog.
    await (await page.waitForSelector('.btn.authorize', WAIT))!.click();
    const field = (await page.waitForSelector('.auth-container input[type=text]', WAIT))!;
    await field.type(key);
    await page.click('.auth-container button[type=submit].authorize');
    // Once applied, the dialog shows the scheme as authorized and offers "Logout" instead.
    await page.waitForSelector('.auth-container button[aria-label="Remove authorization"]', WAIT);
    await page.click('.dialog-ux .btn-done');
    await page.waitForSelector('.dialog-ux', { ...WAIT, hidden: true });
    // The lock icon of the operations now shows them as authorized.
    await page.waitForSelector('.btn.authorize.locked', WAIT);
    // Held in the page only: nothing of it in localStorage (no persistAuthorization), to be read
    // by any script of this origin later.
    const stored = await page.evaluate(() => JSON.stringify({ ...window.localStorage }));
    expect(stored).not.toContain(key);
    expect(stored).not.toContain('authorized');

    // Expand the operation, then "Try it out".
    await (await page.waitForSelector(`${OPERATION} .opblock-summary-control`, WAIT))!.click();
    await (await page.waitForSelector(`${OPERATION} .try-out__btn`, WAIT))!.click();

    // Replace the example body with October 2021.
    const textarea = (await page.waitForSelector(`${OPERATION} textarea.body-param__text`, WAIT))!;
    await textarea.click();
    await page.evaluate((selector) => {
      const element = document.querySelector<HTMLTextAreaElement>(selector)!;
      element.select();
    }, `${OPERATION} textarea.body-param__text`);
    await page.keyboard.press('Backspace');
    await textarea.type('{"start_date":"2021-10-01","end_date":"2021-11-01"}');

    await page.click(`${OPERATION} .btn.execute`);

    // The live response: its status code, its headers (location) and its body (the id).
    const statusCell = `${OPERATION} .live-responses-table tbody .response-col_status`;
    await page.waitForSelector(statusCell, WAIT);
    const status = await page.$eval(statusCell, (cell) => cell.textContent?.trim() ?? '');
    expect(status).toMatch(/^202\b/);

    const headersText = await page.$eval(
      `${OPERATION} .live-responses-table tbody .response-col_description`,
      (cell) => cell.textContent ?? '',
    );
    const location = /location:\s*(\/v1\/orders\/reports\/status\/[0-9a-f-]{36})/i.exec(
      headersText,
    );
    expect(location).not.toBeNull();

    const bodyText = await page.$eval(
      `${OPERATION} .live-responses-table tbody .response-col_description .microlight`,
      (code) => code.textContent ?? '',
    );
    const shown = JSON.parse(bodyText) as { id: string; status: string };
    expect(shown.status).toBe('PENDING');
    expect(location![1]).toBe(`/v1/orders/reports/status/${shown.id}`);

    // The browser sent the key it was given, and the report really exists for that client.
    const curl = await page.$eval(`${OPERATION} .curl-command`, (el) => el.textContent ?? '');
    expect(curl).toContain(`Authorization: Bearer ${key}`);
    const polled = await call(test, 'GET', location![1], { key });
    expect([200, 303]).toContain(polled.status);
    expect(polled.body.id).toBe(shown.id);
    const rows = await test.dataSource.query(
      'SELECT start_date::text AS start_date, end_date::text AS end_date FROM reports WHERE id = $1',
      [shown.id],
    );
    expect(rows).toEqual([{ start_date: '2021-10-01', end_date: '2021-11-01' }]);

    // Swagger UI did all that under /docs's Content-Security-Policy, which it never broke.
    expect(violations).toEqual([]);
  });
});
