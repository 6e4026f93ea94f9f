import { Logger } from '@nestjs/common';
import type { Browser, Page } from 'puppeteer';
import { ReportErrorCode } from '../reports.exceptions';
import { launchChromium, openPage } from './chromium-setup';
import { RenderError } from './render-error';

const shutDown = () =>
  new RenderError(ReportErrorCode.RenderFailed, 'The PDF renderer is shut down');

/**
 * One long-lived Chromium and its idle pages, each warm (a fresh context and page cost about 0.5 s,
 * a small report prints in about 0.15 s on a warm page). Launched on first use, and again by the
 * next use after it crashed or was killed. Pages run without JavaScript and with every request
 * except data: URLs aborted (chromium-setup.ts).
 */
export class Chromium {
  private readonly logger = new Logger(Chromium.name);
  private browserPromise: Promise<Browser> | null = null;
  private browser: Browser | null = null;
  private idlePages: Page[] = [];
  private launches = 0;
  private closed = false;

  constructor(
    private readonly executablePath: string,
    /** Called on every launch after the first (a crash, a kill, a disconnect). */
    private readonly onRelaunch: () => void = () => undefined,
  ) {}

  /** How many times the browser was relaunched after the first launch. */
  get restarts(): number {
    return Math.max(0, this.launches - 1);
  }

  /** The running browser's process id, if it is running. */
  get pid(): number | undefined {
    return this.browser?.connected ? this.browser.process()?.pid : undefined;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  async version(): Promise<string> {
    return (await this.getBrowser()).version();
  }

  /** An idle page of the running browser, or a new one. */
  async take(): Promise<Page> {
    const browser = await this.getBrowser();
    while (this.idlePages.length) {
      const page = this.idlePages.pop()!;
      if (!page.isClosed() && page.browser() === browser) return page;
    }
    return openPage(browser);
  }

  /** Back to the idle pages, unless its browser is gone or replaced. */
  giveBack(page: Page): void {
    if (page.isClosed() || !page.browser().connected || page.browser() !== this.browser) return;
    if (this.closed) void page.close().catch(() => undefined);
    else this.idlePages.push(page);
  }

  /** Closes a page whose print failed or was stopped, and opens a fresh idle one instead. */
  async replace(page: Page | undefined): Promise<void> {
    if (page) await this.discard(page);
    const browser = this.browser;
    if (!browser?.connected || this.closed) return;
    try {
      const fresh = await openPage(browser);
      if (browser === this.browser && !this.closed) this.idlePages.push(fresh);
      else await fresh.close();
    } catch {
      // The next render opens its own page.
    }
  }

  async discard(page: Page): Promise<void> {
    this.idlePages = this.idlePages.filter((idle) => idle !== page);
    if (page.isClosed() || !page.browser().connected) return;
    await page.close().catch(() => undefined);
  }

  /** Closes the browser for good. */
  async close(): Promise<void> {
    this.closed = true;
    const browser = this.browser ?? (await this.browserPromise?.catch(() => null));
    this.browserPromise = null;
    this.browser = null;
    this.idlePages = [];
    if (browser?.connected) {
      await browser.close().catch((error: unknown) => {
        this.logger.warn(`Closing Chromium failed: ${String(error)}`);
        browser.process()?.kill('SIGKILL');
      });
    }
  }

  private getBrowser(): Promise<Browser> {
    if (this.closed) return Promise.reject(shutDown());
    if (!this.browserPromise) {
      const launching = this.launch();
      this.browserPromise = launching;
      launching.catch(() => {
        if (this.browserPromise === launching) this.browserPromise = null;
      });
    }
    return this.browserPromise;
  }

  private async launch(): Promise<Browser> {
    const started = Date.now();
    const browser = await launchChromium(this.executablePath);
    if (this.closed) {
      await browser.close().catch(() => undefined);
      throw shutDown();
    }
    this.launches += 1;
    if (this.launches > 1) this.onRelaunch();
    this.browser = browser;
    browser.once('disconnected', () => this.onDisconnected(browser));
    this.logger.log(
      `Chromium ${await browser.version()} started (pid ${browser.process()?.pid}, ` +
        `${Date.now() - started} ms, launch #${this.launches})`,
    );
    return browser;
  }

  private onDisconnected(browser: Browser): void {
    if (this.browser !== browser) return;
    this.browser = null;
    this.browserPromise = null;
    this.idlePages = [];
    if (!this.closed) {
      this.logger.error('Chromium disconnected; it will be relaunched by the next render');
    }
  }
}
