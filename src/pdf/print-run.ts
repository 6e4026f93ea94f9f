import type { Page } from 'puppeteer';
import { Chromium } from './chromium';
import { PageSlots } from './page-slots';
import { PdfJoin } from './pdf-join';
import { PdfError } from './pdf-error';
import type { DocumentPart } from './template';

/** What prints one part on a page: page.setContent + page.pdf with the renderer's options. */
export type PrintPart = (page: Page, part: DocumentPart) => Promise<Uint8Array>;

const stoppedError = () => new PdfError('timeout', 'Stopped');

/**
 * One render's use of a worker's pages. It holds one page (and its slot) from start to end, and
 * prints its parts on it; a part that is ready while that page is busy is printed on a free page
 * borrowed for that one part, given back as soon as the part is printed. So a render never holds a
 * page it is not printing on (it may wait long for its next part: rows being read, a chunk being
 * stored), and a render waiting for a page gets the next one given back (PageSlots serves waiters
 * before borrowers): a long report never keeps a worker's other jobs from starting.
 */
export class PrintRun {
  private stopped = false;
  private failure: unknown;
  private own?: Page;
  /** The own page and slot were handed back (once: by the run's end, or by stop()). */
  private ownReleased = false;
  /** Borrowed pages printing now: stop() closes them. */
  private readonly borrowed = new Set<Page>();
  /** Parts being printed or added to the join: their settled promises. */
  private readonly tasks = new Set<Promise<void>>();

  constructor(
    private readonly slots: PageSlots,
    private readonly chromium: Chromium,
    private readonly join: PdfJoin,
    private readonly printPart: PrintPart,
    /** The most parts printed or waiting to be joined at once (each holds its PDF in memory). */
    private readonly maxParts: number,
  ) {}

  /**
   * Prints every part and adds it to the join. Waits for its page under `signal` (the render's
   * deadline). Its pages are handed back when it ends, or at once by stop().
   */
  async run(
    parts: DocumentPart[] | AsyncIterable<DocumentPart>,
    signal: AbortSignal,
  ): Promise<void> {
    await this.slots.acquire(signal);
    let succeeded = false;
    try {
      const own = await this.chromium.take();
      this.own = own;
      this.check();
      const iterator = Array.isArray(parts)
        ? parts[Symbol.iterator]()
        : (parts as AsyncIterable<DocumentPart>)[Symbol.asyncIterator]();
      let ownBusy = false;
      for (;;) {
        const next = await iterator.next();
        this.check();
        if (next.done) break;
        const part = next.value;
        for (;;) {
          this.check();
          if (!ownBusy) {
            ownBusy = true;
            this.start(async () => {
              try {
                await this.join.add(part.index, await this.printPart(own, part));
              } finally {
                ownBusy = false;
              }
            });
            break;
          }
          if (this.tasks.size < this.maxParts && this.slots.tryAcquire(1) === 1) {
            this.start(() => this.printBorrowed(part));
            break;
          }
          await Promise.race(this.tasks);
        }
      }
      await Promise.all(this.tasks);
      this.check();
      succeeded = true;
    } finally {
      this.releaseOwn(!succeeded);
    }
  }

  /**
   * Stops the run: closing its pages is what stops a print in progress. Its own slot is given back
   * once a fresh page replaces the one it printed on, whatever the run is waiting for.
   */
  stop(): void {
    this.stopped = true;
    for (const page of this.borrowed) void this.chromium.discard(page);
    if (this.own) this.releaseOwn(true);
  }

  private check(): void {
    if (this.failure !== undefined) throw this.failure;
    if (this.stopped) throw stoppedError();
  }

  /** Runs a part's work; its failure fails the run, seen at the run's next step. */
  private start(work: () => Promise<void>): void {
    const task: Promise<void> = work()
      .catch((error: unknown) => {
        this.failure ??= error;
      })
      .finally(() => this.tasks.delete(task));
    this.tasks.add(task);
  }

  /** Prints one part on a borrowed page (its slot already taken), gives both back, then joins it. */
  private async printBorrowed(part: DocumentPart): Promise<void> {
    let page: Page | undefined;
    let pdf: Uint8Array;
    try {
      page = await this.chromium.take();
      this.check();
      this.borrowed.add(page);
      pdf = await this.printPart(page, part);
    } catch (error) {
      if (page) {
        this.borrowed.delete(page);
        const printedOn = page;
        void this.chromium.replace(printedOn).finally(() => this.slots.release());
      } else {
        this.slots.release();
      }
      throw error;
    }
    this.borrowed.delete(page);
    this.chromium.giveBack(page);
    this.slots.release();
    await this.join.add(part.index, pdf);
  }

  /** Gives the own page back (a failed run's is replaced by a fresh one first), then its slot. */
  private releaseOwn(failed: boolean): void {
    if (this.ownReleased) return;
    this.ownReleased = true;
    const own = this.own;
    this.chromium.ended(own);
    if (!own) {
      this.slots.release();
    } else if (failed) {
      void this.chromium.replace(own).finally(() => this.slots.release());
    } else {
      this.chromium.giveBack(own);
      this.slots.release();
    }
  }
}
