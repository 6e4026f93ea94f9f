import { Inject, Injectable, Logger, OnApplicationShutdown, Optional } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import puppeteer, { Browser, HTTPRequest, Page } from 'puppeteer';
import { renderConfig } from '../../config/configuration';
import { withTimeout } from '../../common/with-timeout';
import { MetricsService } from '../../metrics/metrics.service';
import { JoinedPdf, PdfJoin, PdfSink } from './pdf-join';
import { ReportHtmlBuilder, ReportPart } from './report-html';

export type RenderErrorCode = 'RENDER_TIMEOUT' | 'RENDER_FAILED';

/** A render that failed. The message never contains the document. */
export class RenderError extends Error {
  constructor(
    readonly code: RenderErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'RenderError';
  }
}

/** How long a worker's start-up warm-up may hold the pages. */
const WARM_UP_TIMEOUT_MS = 30_000;

export const CHROMIUM_ARGS = [
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

/**
 * page.pdf() options. Untagged: measured here, a tagged 1,000-row PDF took 2.4 s and 2 MB against
 * 0.46 s and 94 KB untagged. Page numbers are stamped as the parts are joined (pdf-join.ts).
 */
export const PDF_OPTIONS = {
  format: 'A4' as const,
  printBackground: true,
  tagged: false,
  outline: false,
  // The reports use the system's fonts only: nothing to wait for (it cost a round trip a print).
  waitForFonts: false,
  margin: { top: '14mm', right: '12mm', bottom: '16mm', left: '12mm' },
};

/** Counting semaphore: at most `size` renders hold a page at a time, the rest wait in order. */
class Slots {
  private free: number;
  private readonly waiting: Array<() => void> = [];

  constructor(size: number) {
    this.free = size;
  }

  async acquire(): Promise<void> {
    if (this.free > 0) {
      this.free -= 1;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  /** Takes up to `count` free slots without waiting; answers how many it took. */
  tryAcquire(count: number): number {
    const taken = Math.max(0, Math.min(count, this.free));
    this.free -= taken;
    return taken;
  }

  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.free += 1;
  }
}

/**
 * Prints HTML to PDF with one long-lived Chromium per process and a pool of warm pages: a fresh
 * context and page cost about 0.5 s, a small report prints in about 0.15 s on a warm page.
 * Pages run without JavaScript and with every request except data: URLs aborted.
 */
@Injectable()
export class PdfRenderer implements OnApplicationShutdown {
  private readonly logger = new Logger(PdfRenderer.name);
  private readonly slots: Slots;
  private browserPromise: Promise<Browser> | null = null;
  private browser: Browser | null = null;
  private idlePages: Page[] = [];
  private launches = 0;
  private destroyed = false;

  constructor(
    @Inject(renderConfig.KEY) private readonly config: ConfigType<typeof renderConfig>,
    // Optional: the renderer also runs alone, in its spec and in the benchmarks.
    @Optional() private readonly metrics?: MetricsService,
  ) {
    this.slots = new Slots(Math.max(1, config.concurrency));
  }

  /** How many times the browser was relaunched after the first launch (crash, kill, disconnect). */
  get restarts(): number {
    return Math.max(0, this.launches - 1);
  }

  /** The running browser's process id, if it is running. */
  get browserPid(): number | undefined {
    return this.browser?.connected ? this.browser.process()?.pid : undefined;
  }

  async ping(): Promise<string> {
    const browser = await this.getBrowser();
    return browser.version();
  }

  /**
   * Launches Chromium and opens the pool's pages, each printing an empty report once, so that the
   * first renders do not pay for them (measured: the first report completed ~0.9 s after it was
   * claimed on a cold worker). Takes only the pages no render holds; a failure is left to the
   * first render, which launches again.
   */
  async warmUp(): Promise<void> {
    const count = this.slots.tryAcquire(this.config.concurrency);
    const html = new ReportHtmlBuilder(
      { clientName: '', startDate: '2000-01-01', endDate: '2000-01-02', generatedAt: new Date() },
      this.config.rowsPerPage,
    ).toHtml();
    const pages: Page[] = [];
    let abandoned = false;
    const warm = async () => {
      for (let i = 0; i < count; i += 1) {
        const page = await this.takePage();
        if (abandoned) {
          await this.discard(page);
          return;
        }
        pages.push(page);
      }
      await Promise.all(
        pages.map(async (page) => {
          await page.setContent(html, { waitUntil: 'load', timeout: WARM_UP_TIMEOUT_MS });
          await page.pdf({ ...PDF_OPTIONS, timeout: WARM_UP_TIMEOUT_MS });
        }),
      );
    };
    try {
      // Bounded: a Chromium that hangs would otherwise keep every page, and so every render, waiting.
      await withTimeout(warm(), WARM_UP_TIMEOUT_MS, 'warming up Chromium');
      for (const page of pages) this.pool(page);
    } catch (error) {
      abandoned = true;
      this.logger.warn(`Warming up Chromium failed: ${String(error)}`);
      await Promise.all(pages.map((page) => this.discard(page)));
    } finally {
      for (let i = 0; i < count; i += 1) this.slots.release();
    }
  }

  /**
   * Prints a report's parts (ReportHtmlBuilder) as they come and joins them by index into `sink`,
   * as they are printed (PdfJoin). A render holds one warm page, and borrows the pages no other
   * render is using to print its parts in parallel: at most `partCount - 1` of them.
   */
  async render(
    parts: ReportPart[] | AsyncIterable<ReportPart>,
    sink: PdfSink,
    partCount = Array.isArray(parts) ? parts.length : 1,
  ): Promise<JoinedPdf> {
    if (this.destroyed) throw new RenderError('RENDER_FAILED', 'The PDF renderer is shut down');
    await this.slots.acquire();
    const slotCount = 1 + this.slots.tryAcquire(partCount - 1);
    const pages: Page[] = [];
    const join = new PdfJoin(sink);
    let timedOut = false;
    let timer: NodeJS.Timeout | undefined;
    const work = (async () => {
      for (let i = 0; i < slotCount; i += 1) {
        const page = await this.takePage();
        if (timedOut) {
          await this.discard(page);
          throw new RenderError('RENDER_TIMEOUT', 'Timed out before printing');
        }
        pages.push(page);
      }
      return this.print(pages, parts, join);
    })();
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        timedOut = true;
        reject(
          new RenderError('RENDER_TIMEOUT', `PDF render exceeded ${this.config.timeoutMs} ms`),
        );
      }, this.config.timeoutMs);
    });
    const releaseSlots = (): void => {
      for (let i = 0; i < slotCount; i += 1) this.slots.release();
    };
    try {
      await Promise.race([work, deadline]);
    } catch (error) {
      // Closing the pages is what really stops a print in progress. The slots stay taken until
      // the pages are closed and warm replacements are ready, so the next render starts cleanly.
      work.catch(() => undefined);
      // The chunk being stored, if any, lands before the caller deletes this render's chunks.
      await withTimeout(join.stop(), 5000, 'stopping the join').catch(() => undefined);
      const renderError = this.toRenderError(error);
      void Promise.all(pages.map((page) => this.replace(page))).finally(releaseSlots);
      throw renderError; // the caller logs it, knowing what was rendered
    } finally {
      clearTimeout(timer);
    }
    // Every part is printed: the pages go back to the pool (the next document replaces what they
    // hold) while the page numbers and the cross-reference table are written.
    for (const page of pages) this.pool(page);
    releaseSlots();
    return join.finish();
  }

  /** Last, after the render processor has stopped taking jobs and let the running ones finish. */
  async onApplicationShutdown(): Promise<void> {
    this.destroyed = true;
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

  /** Each page prints the next part to come and adds it to the join. */
  private async print(
    pages: Page[],
    parts: ReportPart[] | AsyncIterable<ReportPart>,
    join: PdfJoin,
  ): Promise<void> {
    // Puppeteer's own timeouts are a backstop; ours fires first and closes the pages.
    const backstop = this.config.timeoutMs + 5000;
    const iterator = Array.isArray(parts)
      ? parts[Symbol.iterator]()
      : (parts as AsyncIterable<ReportPart>)[Symbol.asyncIterator]();
    await Promise.all(
      pages.map(async (page) => {
        for (;;) {
          const next = await iterator.next();
          if (next.done) return;
          await page.setContent(next.value.html, { waitUntil: 'load', timeout: backstop });
          await join.add(next.value.index, await page.pdf({ ...PDF_OPTIONS, timeout: backstop }));
        }
      }),
    );
  }

  private async takePage(): Promise<Page> {
    const browser = await this.getBrowser();
    while (this.idlePages.length) {
      const page = this.idlePages.pop()!;
      if (!page.isClosed() && page.browser() === browser) return page;
    }
    return this.newPage(browser);
  }

  private async newPage(browser: Browser): Promise<Page> {
    // Measured: newPage() on a browser killed meanwhile never settles. Stop waiting when it goes.
    let onGone = (): void => undefined;
    const gone = new Promise<never>((_, reject) => {
      onGone = () => reject(new RenderError('RENDER_FAILED', 'Chromium disconnected'));
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
        this.logger.warn('A Chromium page crashed');
        void page.close().catch(() => undefined);
      });
      return page;
    } catch (error) {
      await page.close().catch(() => undefined);
      throw error;
    }
  }

  /** Back to the idle pages, unless its browser is gone or replaced. */
  private pool(page: Page): void {
    if (page.isClosed() || !page.browser().connected || page.browser() !== this.browser) return;
    if (this.destroyed) void page.close().catch(() => undefined);
    else this.idlePages.push(page);
  }

  private async replace(page: Page | undefined): Promise<void> {
    if (page) await this.discard(page);
    const browser = this.browser;
    if (!browser?.connected || this.destroyed) return;
    try {
      const fresh = await this.newPage(browser);
      if (browser === this.browser && !this.destroyed) this.idlePages.push(fresh);
      else await fresh.close();
    } catch {
      // The next render opens its own page.
    }
  }

  private async discard(page: Page): Promise<void> {
    this.idlePages = this.idlePages.filter((idle) => idle !== page);
    if (page.isClosed() || !page.browser().connected) return;
    await page.close().catch(() => undefined);
  }

  private getBrowser(): Promise<Browser> {
    if (this.destroyed) {
      return Promise.reject(new RenderError('RENDER_FAILED', 'The PDF renderer is shut down'));
    }
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
    const browser = await puppeteer.launch({
      executablePath: this.config.executablePath,
      headless: true,
      // A pipe rather than a WebSocket: no debugging port is opened on the host.
      pipe: true,
      args: CHROMIUM_ARGS,
      // Nest's shutdown hooks close the browser; Puppeteer's handlers would exit the process.
      handleSIGINT: false,
      handleSIGTERM: false,
      handleSIGHUP: false,
    });
    if (this.destroyed) {
      await browser.close().catch(() => undefined);
      throw new RenderError('RENDER_FAILED', 'The PDF renderer is shut down');
    }
    this.launches += 1;
    if (this.launches > 1) this.metrics?.chromiumRestarts.inc();
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
    if (!this.destroyed) {
      this.logger.error('Chromium disconnected; it will be relaunched by the next render');
    }
  }

  private toRenderError(error: unknown): RenderError {
    if (error instanceof RenderError) return error;
    const reason = error instanceof Error ? error.message : String(error);
    // Puppeteer messages name the failing protocol call, never the page content; cap them anyway.
    return new RenderError('RENDER_FAILED', `PDF render failed: ${reason.slice(0, 300)}`, {
      cause: error,
    });
  }
}
