import { Logger } from '@nestjs/common';
import type { Browser, Page } from 'puppeteer';
import { withTimeout } from '../common/with-timeout';
import { launchChromium, openPage } from './chromium-setup';
import { RecyclePolicy, RecycleReason } from './recycle-policy';
import { PdfError } from './pdf-error';

/** Launching and warming a replacement may take this long; then the current browser goes on. */
const RECYCLE_TIMEOUT_MS = 30_000;

const shutDown = () => new PdfError('failed', 'The PDF renderer is shut down');

export interface ChromiumOptions {
  /** Called on every launch after the first that follows a crash, a kill or a disconnect. */
  onRelaunch?: () => void;
  onRecycle?: (reason: RecycleReason) => void;
  /** Renders a browser does before a fresh one replaces it; 0: never. */
  recycleAfter?: number;
  /** The summed RSS (MB) of a browser's processes past which a fresh one replaces it; 0: no bound. */
  recycleRssMb?: number;
  /** Pages a replacement opens and warms before it takes over, and how it warms each. */
  warmPages?: number;
  warm?: (page: Page) => Promise<void>;
}

/**
 * One long-lived Chromium and its idle pages, each warm (a fresh context and page cost about 0.5 s,
 * a small report prints in about 0.15 s on a warm page). Launched on first use, and again by the
 * next use after it crashed or was killed. Pages run without JavaScript and with every request
 * except data: URLs aborted (chromium-setup.ts).
 *
 * Recycled, since a browser's memory grows with what it has printed: after `recycleAfter` renders,
 * or past `recycleRssMb`, a fresh one is launched and warmed beside it while renders go on, then
 * takes the new renders; the old one is closed once the renders still on it have ended.
 */
export class Chromium {
  private readonly logger = new Logger(Chromium.name);
  private readonly policy: RecyclePolicy;
  private browserPromise: Promise<Browser> | null = null;
  private browser: Browser | null = null;
  private idlePages: Page[] = [];
  /** The pages renders hold, and their browser: a replaced browser is closed when it has none. */
  private readonly lent = new Map<Page, Browser>();
  /** Replaced browsers still running; and every replaced browser, to tell a recycle from a crash. */
  private readonly draining = new Set<Browser>();
  private readonly recycled = new WeakSet<Browser>();
  private recycling: Promise<void> | null = null;
  private launches = 0;
  private recycleCount = 0;
  private closed = false;

  constructor(
    private readonly executablePath: string,
    private readonly options: ChromiumOptions = {},
  ) {
    this.policy = new RecyclePolicy(options.recycleAfter ?? 0, options.recycleRssMb ?? 0);
  }

  /** How many times the browser was relaunched after the first launch (recycles apart). */
  get restarts(): number {
    return Math.max(0, this.launches - 1);
  }

  /** How many times a fresh browser replaced one that had done its renders or passed its bound. */
  get recycles(): number {
    return this.recycleCount;
  }

  /** The running browser's process id, if it is running. */
  get pid(): number | undefined {
    return this.browser?.connected ? this.browser.process()?.pid : undefined;
  }

  /** The process ids of every browser running: the current one, and replaced ones draining. */
  get pids(): number[] {
    return [this.browser, ...this.draining]
      .map((browser) => (browser?.connected ? browser.process()?.pid : undefined))
      .filter((pid): pid is number => pid !== undefined);
  }

  /** A replacement is being launched, or a replaced browser still runs. */
  get isRecycling(): boolean {
    return this.recycling !== null || this.draining.size > 0;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  async version(): Promise<string> {
    return (await this.getBrowser()).version();
  }

  /** An idle page of the running browser, or a new one. */
  async take(): Promise<Page> {
    for (;;) {
      const browser = await this.getBrowser();
      // A recycle that swapped browsers meanwhile left warm pages on the fresh one: take one of those.
      if (this.recycled.has(browser)) continue;
      const page =
        this.idlePage(browser) ??
        (await openPage(browser).catch((error: unknown) => {
          if (this.recycled.has(browser)) return undefined;
          throw error;
        }));
      if (page && !this.recycled.has(browser)) {
        this.lent.set(page, browser);
        return page;
      }
      if (page) await page.close().catch(() => undefined);
    }
  }

  /** Back to the idle pages, unless its browser is gone or replaced. */
  giveBack(page: Page): void {
    this.release(page);
    if (page.isClosed() || !page.browser().connected || page.browser() !== this.browser) return;
    if (this.closed) void page.close().catch(() => undefined);
    else this.idlePages.push(page);
  }

  /**
   * A render that printed on `page` has ended: counted against its browser, which a fresh one
   * replaces in the background once the recycle policy says it is due.
   */
  ended(page: Page | undefined): void {
    const browser = page?.browser();
    if (!browser || browser !== this.browser || this.recycling || this.closed) return;
    const due = this.policy.due(browser.process()?.pid);
    if (!due) return;
    this.recycling = this.recycle(browser, due.reason, due.why).finally(() => {
      this.recycling = null;
    });
  }

  /** Closes a page whose print failed or was stopped, and opens a fresh idle one instead. */
  async replace(page: Page | undefined): Promise<void> {
    // A replaced browser's page is not replaced: the fresh browser has its own warm pages.
    const replaced = page !== undefined && this.recycled.has(page.browser());
    if (page) await this.discard(page);
    const browser = this.browser;
    if (replaced || !browser?.connected || this.closed) return;
    try {
      const fresh = await openPage(browser);
      if (browser === this.browser && !this.closed) this.idlePages.push(fresh);
      else await fresh.close();
    } catch {
      // The next render opens its own page.
    }
  }

  async discard(page: Page): Promise<void> {
    this.release(page);
    this.idlePages = this.idlePages.filter((idle) => idle !== page);
    if (page.isClosed() || !page.browser().connected) return;
    await page.close().catch(() => undefined);
  }

  /** Closes the browser for good, with a replacement being launched and replaced ones draining. */
  async close(): Promise<void> {
    this.closed = true;
    // A recycle under way closes what it launched once it sees `closed` (RECYCLE_TIMEOUT_MS at most).
    await this.recycling;
    const browser = this.browser ?? (await this.browserPromise?.catch(() => null));
    this.browserPromise = null;
    this.browser = null;
    this.idlePages = [];
    await Promise.all([browser, ...this.draining].map((each) => each && this.closeBrowser(each)));
  }

  private async closeBrowser(browser: Browser): Promise<void> {
    if (!browser.connected) return;
    await browser.close().catch((error: unknown) => {
      this.logger.warn(`Closing Chromium failed: ${String(error)}`);
      browser.process()?.kill('SIGKILL');
    });
  }

  /** The page is no longer lent; a replaced browser whose last lent page it was is closed. */
  private release(page: Page): void {
    const browser = this.lent.get(page);
    if (!browser) return;
    this.lent.delete(page);
    if (this.draining.has(browser) && !this.lends(browser)) void this.closeBrowser(browser);
  }

  private lends(browser: Browser): boolean {
    return [...this.lent.values()].includes(browser);
  }

  private idlePage(browser: Browser): Page | undefined {
    while (this.idlePages.length) {
      const page = this.idlePages.pop()!;
      if (!page.isClosed() && page.browser() === browser) return page;
    }
    return undefined;
  }

  /**
   * Launches a fresh browser and warms its pages while `old` goes on taking renders, then hands the
   * new renders to the fresh one; `old` drains. If that fails, `old` goes on.
   */
  private async recycle(old: Browser, reason: RecycleReason, why: string): Promise<void> {
    const started = Date.now();
    let fresh: Browser | undefined;
    let abandoned = false;
    const prepare = async (): Promise<Page[]> => {
      const browser = await this.startBrowser();
      fresh = browser;
      if (abandoned) {
        // Timed out while it launched: nothing else will close it.
        await this.closeBrowser(browser);
        throw new Error('Recycle abandoned');
      }
      const { warmPages = 1, warm = async () => undefined } = this.options;
      return Promise.all(
        Array.from({ length: warmPages }, async () => {
          const page = await openPage(browser);
          await warm(page);
          return page;
        }),
      );
    };
    const preparing = prepare();
    try {
      const pages = await withTimeout(preparing, RECYCLE_TIMEOUT_MS, 'recycling Chromium');
      // Shut down, or `old` crashed meanwhile (the next render relaunches): the swap is off.
      if (this.closed || this.browser !== old) throw shutDown();
      this.browser = fresh!;
      this.browserPromise = Promise.resolve(fresh!);
      this.idlePages = pages;
      this.recycled.add(old);
      this.draining.add(old);
      this.recycleCount += 1;
      this.options.onRecycle?.(reason);
      this.logger.log(
        `Chromium recycled ${why}: pid ${old.process()?.pid} replaced by pid ` +
          `${fresh!.process()?.pid} (launched and warmed in ${Date.now() - started} ms)`,
      );
      if (!this.lends(old)) void this.closeBrowser(old);
    } catch (error) {
      abandoned = true;
      preparing.catch(() => undefined);
      if (fresh) await this.closeBrowser(fresh);
      if (!this.closed && this.browser === old) {
        this.logger.warn(`Recycling Chromium ${why} failed; it goes on: ${String(error)}`);
      }
    } finally {
      // After a failure too: `old` goes on, its renders counted again from 0.
      this.policy.restart();
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

  /** The browser of the first use, or of the first use after a crash. */
  private async launch(): Promise<Browser> {
    const started = Date.now();
    const browser = await this.startBrowser();
    this.launches += 1;
    if (this.launches > 1) this.options.onRelaunch?.();
    this.browser = browser;
    this.policy.restart();
    this.logger.log(
      `Chromium ${await browser.version()} started (pid ${browser.process()?.pid}, ` +
        `${Date.now() - started} ms, launch #${this.launches})`,
    );
    return browser;
  }

  private async startBrowser(): Promise<Browser> {
    const browser = await launchChromium(this.executablePath);
    if (this.closed) {
      await browser.close().catch(() => undefined);
      throw shutDown();
    }
    browser.once('disconnected', () => this.onDisconnected(browser));
    return browser;
  }

  private onDisconnected(browser: Browser): void {
    this.draining.delete(browser);
    if (this.browser !== browser) return;
    this.browser = null;
    this.browserPromise = null;
    this.idlePages = [];
    if (!this.closed) {
      this.logger.error('Chromium disconnected; it will be relaunched by the next render');
    }
  }
}
