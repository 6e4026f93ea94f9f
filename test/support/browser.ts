import puppeteer, { Browser, Page } from 'puppeteer';
import { findChromium } from '../../src/config/environment';

/** The machine is a busy 2-core box: every wait is generous. */
export const WAIT = { timeout: 60_000 };

export function launchBrowser(): Promise<Browser> {
  return puppeteer.launch({
    executablePath: process.env.PUPPETEER_EXECUTABLE_PATH || findChromium(),
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
}

/**
 * Every Content-Security-Policy violation the page meets from now on, as the browser reports it:
 * the document's `securitypolicyviolation` events, and the console lines Chromium writes for them.
 */
export async function recordCspViolations(page: Page): Promise<string[]> {
  const violations: string[] = [];
  await page.exposeFunction('__cspViolation', (text: string) => violations.push(text));
  await page.evaluateOnNewDocument(() => {
    document.addEventListener('securitypolicyviolation', (event) =>
      (window as unknown as { __cspViolation: (text: string) => void }).__cspViolation(
        `${event.effectiveDirective} blocked ${event.blockedURI || 'inline'}`,
      ),
    );
  });
  page.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) violations.push(message.text());
  });
  return violations;
}

/**
 * Whether the page at `parentUrl` (another origin, on loopback: Chromium keeps public pages from
 * reaching local servers at all) can show `url` in an iframe: the frame holds the document served,
 * or Chromium's error page when the answer forbids framing.
 */
export async function canBeFramed(
  browser: Browser,
  parentUrl: string,
  url: string,
  credentials?: { username: string; password: string },
): Promise<boolean> {
  const page = await browser.newPage();
  try {
    if (credentials) await page.authenticate(credentials);
    await page.goto(parentUrl, WAIT);
    await page.setContent(`<iframe src="${url}"></iframe>`, { waitUntil: 'load', ...WAIT });
    const frame = page.frames().find((candidate) => candidate !== page.mainFrame());
    return frame !== undefined && frame.url() === url;
  } finally {
    await page.close();
  }
}
