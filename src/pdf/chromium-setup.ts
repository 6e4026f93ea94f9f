import { Logger } from '@nestjs/common';
import puppeteer, { Browser, HTTPRequest, Page } from 'puppeteer';
import { PdfError } from './pdf-error';

/**
 * The browser has no network: every connection goes through a proxy on a port nothing listens on,
 * loopback included (Chromium bypasses proxies for it unless told not to), and every host name
 * resolves to nothing. Request interception and the template's CSP stop what a page asks for; these
 * stop what they do not see, such as `<link rel=prefetch>` or `preconnect`, should raw HTML ever
 * reach the page.
 */
const NO_NETWORK = [
  '--proxy-server=http://127.0.0.1:1',
  '--proxy-bypass-list=<-loopback>',
  '--host-resolver-rules=MAP * ~NOTFOUND',
  '--dns-prefetch-disable',
];

export const CHROMIUM_ARGS = [
  ...NO_NETWORK,
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-extensions',
  '--font-render-hinting=none',
];

const logger = new Logger('Chromium');

/** A headless Chromium as the renderer runs it. */
export function launchChromium(executablePath: string): Promise<Browser> {
  return puppeteer.launch({
    executablePath,
    headless: true,
    // A pipe rather than a WebSocket: no debugging port is opened on the host.
    pipe: true,
    args: CHROMIUM_ARGS,
    // Nest's shutdown hooks close the browser; Puppeteer's handlers would exit the process.
    handleSIGINT: false,
    handleSIGTERM: false,
    handleSIGHUP: false,
  });
}

/** A page without JavaScript, whose every request except data: URLs is aborted. */
export async function openPage(browser: Browser): Promise<Page> {
  // Measured: newPage() on a browser killed meanwhile never settles. Stop waiting when it goes.
  let onGone = (): void => undefined;
  const gone = new Promise<never>((_, reject) => {
    onGone = () => reject(new PdfError('failed', 'Chromium disconnected'));
    if (browser.connected) browser.once('disconnected', onGone);
    else onGone();
  });
  const page = await Promise.race([browser.newPage(), gone]).finally(() =>
    browser.off('disconnected', onGone),
  );
  try {
    await page.setJavaScriptEnabled(false);
    await page.setRequestInterception(true);
    // Chromium does not route data: URLs through interception, so they load; everything else
    // (http, https, file, ws…) is aborted before it leaves the page.
    page.on('request', (request: HTTPRequest) => {
      if (request.isInterceptResolutionHandled()) return;
      if (request.url().startsWith('data:')) void request.continue();
      else void request.abort('blockedbyclient');
    });
    // A crashed renderer would leave the print hanging until the timeout: close the page so
    // the pending calls fail now.
    page.on('error', () => {
      logger.warn('A Chromium page crashed');
      void page.close().catch(() => undefined);
    });
    return page;
  } catch (error) {
    await page.close().catch(() => undefined);
    throw error;
  }
}
