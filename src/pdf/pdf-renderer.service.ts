import { Inject, Injectable, Logger, OnApplicationShutdown, Optional } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import type { Page } from 'puppeteer';
import { renderConfig } from '../config/configuration';
import { chromiumPath } from '../config/environment';
import { HealthCheckOf } from '../common/health-check';
import { withTimeout } from '../common/with-timeout';
import { MetricsService } from '../metrics/metrics.service';
import { inSpan } from '../tracing/spans';
import { Chromium } from './chromium';
import { warnOfMissingFonts } from './fonts';
import { PageSlots } from './page-slots';
import { JoinedPdf, PdfJoin, PdfSink } from './pdf-join';
import { PrintRun } from './print-run';
import { PdfError } from './pdf-error';
import { DocumentBuilder, DocumentPart } from './template';

/** How long a worker's start-up warm-up may hold the pages. */
const WARM_UP_TIMEOUT_MS = 30_000;

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

/**
 * Prints reports to PDF on the warm pages of one long-lived Chromium per process (chromium.ts),
 * RENDER_CONCURRENCY pages at a time, recycled after RENDER_RECYCLE_AFTER renders or past
 * RENDER_RECYCLE_RSS_MB.
 */
@Injectable()
@HealthCheckOf('chromium')
export class PdfRenderer implements OnApplicationShutdown {
  private readonly logger = new Logger(PdfRenderer.name);
  private readonly slots: PageSlots;
  private readonly chromium: Chromium;

  constructor(
    @Inject(renderConfig.KEY) private readonly config: ConfigType<typeof renderConfig>,
    // Optional: the renderer also runs alone, in its spec and in the benchmarks.
    @Optional() metrics?: MetricsService,
  ) {
    this.slots = new PageSlots(Math.max(1, config.concurrency));
    // A worker without its Chromium stops at start, naming the variable.
    this.chromium = new Chromium(chromiumPath(config.executablePath), {
      onRelaunch: () => metrics?.chromiumRestarts.inc(),
      onRecycle: (reason) => metrics?.chromiumRecycles.inc({ reason }),
      recycleAfter: config.recycleAfter,
      recycleRssMb: config.recycleRssMb,
      // A replacement takes over with every page warm, as a worker starts.
      warmPages: Math.max(1, config.concurrency),
      warm: (page) => this.warm(page),
    });
  }

  /** How many times the browser was relaunched after the first launch (crash, kill, disconnect). */
  get restarts(): number {
    return this.chromium.restarts;
  }

  /** How many times a fresh browser replaced one that was due (RENDER_RECYCLE_AFTER, _RSS_MB). */
  get recycles(): number {
    return this.chromium.recycles;
  }

  /** The running browser's process id, if it is running. */
  get browserPid(): number | undefined {
    return this.chromium.pid;
  }

  /** Every browser of this renderer still running: the current one, and replaced ones draining. */
  get browserPids(): number[] {
    return this.chromium.pids;
  }

  /** A replacement browser is being launched, or a replaced one still runs. */
  get isRecycling(): boolean {
    return this.chromium.isRecycling;
  }

  ping(): Promise<string> {
    return this.chromium.version();
  }

  /**
   * Launches Chromium and opens the pool's pages, each printing an empty report once, so that the
   * first renders do not pay for them (measured: the first report completed ~0.9 s after it was
   * claimed on a cold worker). Takes only the pages no render holds; a failure is left to the
   * first render, which launches again.
   */
  async warmUp(): Promise<void> {
    warnOfMissingFonts(this.logger);
    const count = this.slots.tryAcquire(this.config.concurrency);
    const pages: Page[] = [];
    let abandoned = false;
    const warm = async () => {
      for (let i = 0; i < count; i += 1) {
        const page = await this.chromium.take();
        if (abandoned) {
          await this.chromium.discard(page);
          return;
        }
        pages.push(page);
      }
      await Promise.all(pages.map((page) => this.warm(page)));
    };
    try {
      // Bounded: a Chromium that hangs would otherwise keep every page, and so every render, waiting.
      await withTimeout(warm(), WARM_UP_TIMEOUT_MS, 'warming up Chromium');
      for (const page of pages) this.chromium.giveBack(page);
    } catch (error) {
      abandoned = true;
      this.logger.warn(`Warming up Chromium failed: ${String(error)}`);
      await Promise.all(pages.map((page) => this.chromium.discard(page)));
    } finally {
      for (let i = 0; i < count; i += 1) this.slots.release();
    }
  }

  /**
   * Prints a report's parts (DocumentBuilder) as they come and joins them by index into `sink`,
   * as they are printed (PdfJoin). A render holds one warm page from start to end, and prints a
   * part that is ready while that page is busy on a free page it borrows for that part only
   * (PrintRun): at most `partCount` parts at once. Its deadline (RENDER_TIMEOUT_MS) runs from the
   * call, the wait for a page included.
   */
  render(
    parts: DocumentPart[] | AsyncIterable<DocumentPart>,
    sink: PdfSink,
    partCount = Array.isArray(parts) ? parts.length : 1,
  ): Promise<JoinedPdf> {
    return inSpan('pdf.render', { 'pdf.parts': partCount }, async (span) => {
      const pdf = await this.renderParts(parts, sink, partCount);
      span.setAttributes({ 'pdf.pages': pdf.pages, 'pdf.bytes': pdf.bytes });
      return pdf;
    });
  }

  private async renderParts(
    parts: DocumentPart[] | AsyncIterable<DocumentPart>,
    sink: PdfSink,
    partCount: number,
  ): Promise<JoinedPdf> {
    if (this.chromium.isClosed) {
      throw new PdfError('failed', 'The PDF renderer is shut down');
    }
    const join = new PdfJoin(sink);
    const run = new PrintRun(
      this.slots,
      this.chromium,
      join,
      (page, part) => this.printPart(page, part),
      Math.max(1, Math.min(partCount, this.slots.size)),
    );
    const stop = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(new PdfError('timeout', `PDF render exceeded ${this.config.timeoutMs} ms`));
      }, this.config.timeoutMs);
    });
    const work = run.run(parts, stop.signal);
    try {
      await Promise.race([work, deadline]);
    } catch (error) {
      work.catch(() => undefined);
      // Closing the pages is what really stops a print in progress; each slot stays taken until
      // its page is closed and a warm replacement is ready, so the next render starts cleanly.
      stop.abort();
      run.stop();
      // The chunk being stored, if any, lands before the caller deletes this render's chunks.
      await withTimeout(join.stop(), 5000, 'stopping the join').catch(() => undefined);
      throw this.toPdfError(error); // the caller logs it, knowing what was rendered
    } finally {
      clearTimeout(timer);
    }
    // Every part is printed and the pages are back in the pool (the next document replaces what
    // they hold): the page numbers and the cross-reference table are written.
    return inSpan('pdf.join', {}, () => join.finish());
  }

  /** Last, after the render processor has stopped taking jobs and let the running ones finish. */
  async onApplicationShutdown(): Promise<void> {
    await this.chromium.close();
  }

  /** Prints an empty report: what a page's first print costs is paid before any render. */
  private async warm(page: Page): Promise<void> {
    const html = new DocumentBuilder(
      { clientName: '', startDate: '2000-01-01', endDate: '2000-01-02', generatedAt: new Date() },
      this.config.rowsPerPage,
    ).toHtml();
    await page.setContent(html, { waitUntil: 'load', timeout: WARM_UP_TIMEOUT_MS });
    await page.pdf({ ...PDF_OPTIONS, timeout: WARM_UP_TIMEOUT_MS });
  }

  /** Prints one part on `page`. */
  private printPart(page: Page, part: DocumentPart): Promise<Uint8Array> {
    return inSpan('pdf.print_part', { 'pdf.part.index': part.index }, async () => {
      // Puppeteer's own timeouts are a backstop; ours fires first and closes the pages.
      const backstop = this.config.timeoutMs + 5000;
      await page.setContent(part.html, { waitUntil: 'load', timeout: backstop });
      return page.pdf({ ...PDF_OPTIONS, timeout: backstop });
    });
  }

  private toPdfError(error: unknown): PdfError {
    if (error instanceof PdfError) return error;
    const reason = error instanceof Error ? error.message : String(error);
    // Puppeteer messages name the failing protocol call, never the page content; cap them anyway.
    return new PdfError('failed', `PDF render failed: ${reason.slice(0, 300)}`, {
      cause: error,
    });
  }
}
