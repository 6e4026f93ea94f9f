/** The document's HTML: a pure function of the rows, printed by PdfRenderer. No Nest, no I/O. */
import { currencyDigits, displayDecimal, parseDecimal } from '../common/money';
import { CjkFonts, CjkText } from './cjk-fonts';
import { DOCUMENT_LANGUAGE, documentSubject, documentTitle } from './document-info';
import type { CjkLanguage } from './fonts';
import { bdi, escapeHtml, formatPeriod, minuteFormatter } from './format';
import { blockHeight, SUMMARY_LINES } from './layout';
import { STYLE } from './style';
import { Cells, OrderTable, Row, Widths } from './table';

export interface DocumentHeader {
  clientName: string;
  /** YYYY-MM-DD, inclusive, in `timeZone`. */
  startDate: string;
  /** YYYY-MM-DD, exclusive, in `timeZone`. */
  endDate: string;
  generatedAt: Date;
  /** The IANA zone the period and every time are in; UTC when not given. */
  timeZone?: string;
}

/** What a row of the table prints of an order. */
export interface OrderRow {
  number: string;
  placedAt: Date;
  customerName: string;
  status: string;
  itemCount: number;
  /** Exact decimal string. */
  total: string;
  currency: string;
}

/**
 * Amounts are read and added at two decimals or their currency's, whichever is more: totals are
 * stored with two decimals until each currency's own are (issue 15), and the orders API took
 * "12.50" for yen before it knew they have none. They print with the currency's digits unless
 * that would drop one that is not zero ("2500.00" JPY prints 2,500 JPY, "12.50" JPY 12.50 JPY):
 * never a wrong amount, nor a failed report.
 */
const scaleOf = (currency: string): number => Math.max(currencyDigits(currency), 2);

function readAmount(total: string, currency: string): bigint {
  const units = parseDecimal(total, scaleOf(currency));
  if (units === undefined) throw new RangeError(`Not a money amount in ${currency}: ${total}`);
  return units;
}

function displayAmount(units: bigint, currency: string): string {
  const digits = currencyDigits(currency);
  const scale = scaleOf(currency);
  const unit = 10n ** BigInt(scale - digits);
  return units % unit === 0n
    ? displayDecimal(units / unit, digits, currency)
    : displayDecimal(units, scale, currency);
}

/**
 * The longest customer name a row prints whole, what PART_MAX_HTML_CHARS is sized for: orders take
 * names up to the same bound (test/reports/polling.e2e-spec.ts prints one of that length whole).
 */
export const PRINTED_NAME_MAX_LENGTH = 200;

/**
 * A customer name as a row prints it: whole up to PRINTED_NAME_MAX_LENGTH characters; a longer
 * one, stored before orders were bounded, cut there (never inside a character) and ended with an
 * ellipsis, so that no row costs more than the bound allows.
 */
export function printedCustomerName(name: string): string {
  if (name.length <= PRINTED_NAME_MAX_LENGTH) return name;
  let kept = '';
  for (const character of name) {
    if (kept.length + character.length > PRINTED_NAME_MAX_LENGTH - 1) break;
    kept += character;
  }
  return `${kept}\u2026`;
}

/**
 * The most HTML (characters of its pages' blocks) one part holds. 1,000 typical orders take about
 * 300,000 (seeded data); the same orders with 200-character names several times that.
 */
export const PART_MAX_HTML_CHARS = 512 * 1024;

/** One document to print, and where its pages go in the joined PDF. */
export interface DocumentPart {
  index: number;
  html: string;
}

/**
 * Builds the report incrementally, as rows are read. Rows are grouped into blocks, one A4 page
 * each: a block ends when one more row would overflow its page (the first page also holds the
 * title and the summary) or it holds `rowsPerPage` rows. Blocks are cut into parts of about
 * `partRows` rows, documents printed one by one: Chromium's print time grows with a document's
 * length, and a part can print while the next rows are read. Part 0 carries the title and the
 * summary, so it is handed out last, once every row is in; the others as soon as they are full.
 * Only part 0 and the part being filled are held, whatever the report's length. A part is also cut
 * once its pages' HTML reaches PART_MAX_HTML_CHARS: what one print costs is bounded, whatever the
 * rows hold, and so is how long a render holds a page it borrowed for one part (PrintRun).
 */
export class DocumentBuilder {
  /** Sizes parts evenly: 1,000 orders make one part, not 975 + 25 (every part costs a print). */
  static partRows(expectedOrders: number, rowsPerPart: number): number {
    if (!Number.isFinite(rowsPerPart)) return Infinity;
    const parts = Math.max(1, Math.round(expectedOrders / rowsPerPart));
    return Math.max(1, Math.ceil(expectedOrders / parts));
  }

  /**
   * The builder a report of `orderCount` orders is printed with, generated now, in parts of about
   * `layout.rowsPerPart` (bench/documents.ts rebuilds a report's HTML with it for bare Puppeteer).
   */
  static forRows(
    header: Omit<DocumentHeader, 'generatedAt'>,
    orderCount: number,
    layout: { rowsPerPage: number; rowsPerPart: number },
    fonts: CjkFonts,
  ): DocumentBuilder {
    return new DocumentBuilder(
      { ...header, generatedAt: new Date() },
      layout.rowsPerPage,
      DocumentBuilder.partRows(orderCount, layout.rowsPerPart),
      fonts,
    );
  }

  /** Finished blocks of the part being filled, and the rows they hold. */
  private pages: string[] = [];
  private pagesRows = 0;
  private pagesChars = 0;
  /** The characters of the part being filled that its CJK subsets hold, then part 0's. */
  private pagesText = new CjkText();
  private firstPartText?: CjkText;
  private pageCount = 0;
  /** Part 0's blocks, kept until the summary is known. */
  private firstPart?: string[];
  private ready: DocumentPart[] = [];
  private nextIndex = 1;
  private finished = false;
  /** The block being filled: its rows, its columns, and the height its rows take (mm). */
  private pendingRows: Row[] = [];
  private pendingWidths: Widths;
  private pendingHeight = 0;
  private pendingText = new CjkText();
  private readonly totals = new Map<string, bigint>();
  private count = 0;
  private readonly table: OrderTable;
  private readonly timeZone: string;
  private readonly formatMinute: (date: Date) => string;

  /**
   * `fonts`: the CJK faces each document carries subsets of (cjkFonts()); without them, CJK names
   * print from Noto Sans CJK, slower, as Type 3 fonts.
   */
  constructor(
    private readonly header: DocumentHeader,
    private readonly rowsPerPage: number,
    readonly partRows = Infinity,
    private readonly fonts = CjkFonts.none,
  ) {
    if (!Number.isInteger(rowsPerPage) || rowsPerPage < 1) {
      throw new Error(`rowsPerPage must be a positive integer, got ${rowsPerPage}`);
    }
    this.timeZone = header.timeZone ?? 'UTC';
    // Fail on a bad period or zone now rather than after the rows were read.
    formatPeriod(header.startDate, header.endDate, this.timeZone);
    this.formatMinute = minuteFormatter(this.timeZone);
    this.table = new OrderTable(this.timeZone);
    this.pendingWidths = this.table.minWidths;
  }

  get orderCount(): number {
    return this.count;
  }

  addRows(rows: OrderRow[]): void {
    if (this.finished) throw new Error('The report is already finished');
    for (const row of rows) {
      const currency = row.currency.trim().toUpperCase();
      const amount = readAmount(row.total, currency);
      this.totals.set(currency, (this.totals.get(currency) ?? 0n) + amount);
      this.count += 1;
      this.addCells(
        {
          number: row.number,
          placed: this.formatMinute(row.placedAt),
          customer: printedCustomerName(row.customerName),
          status: row.status,
          items: String(row.itemCount),
          total: displayAmount(amount, currency),
        },
        this.fonts.language(row.customerName),
      );
    }
  }

  /** The parts filled since the last call, part 0 excepted. */
  takeReady(): DocumentPart[] {
    const ready = this.ready;
    this.ready = [];
    return ready;
  }

  /** Every part not yet taken, part 0 last: the rows are all in, the summary is known. */
  finish(): DocumentPart[] {
    if (this.finished) throw new Error('The report is already finished');
    if (this.pendingRows.length) this.flushPage();
    if (this.pages.length && this.firstPart) this.cutPart();
    this.finished = true;
    const first = {
      index: 0,
      html: this.document(this.firstPart ?? this.pages, true, this.firstPartText ?? this.pagesText),
    };
    this.firstPart = undefined;
    this.firstPartText = undefined;
    this.pages = [];
    this.pagesText = new CjkText();
    return [...this.takeReady(), first];
  }

  /** The whole report as one document (a builder that cuts no parts: `partRows` Infinity). */
  toHtml(): string {
    if (this.firstPart) throw new Error('toHtml() needs a builder that cuts no parts');
    const pending = this.pendingRows.length
      ? [this.table.blockHtml(this.pendingRows, this.pendingWidths)]
      : [];
    const text = new CjkText().addAll(this.pagesText).addAll(this.pendingText);
    return this.document([...this.pages, ...pending], true, text);
  }

  /** Adds a row to the block being filled, or to a new one when it would overflow its page. */
  private addCells(cells: Cells, language?: CjkLanguage): void {
    const row = this.table.row(cells, language);
    let widths = this.table.fit(this.pendingWidths, row);
    // Wider columns leave the customer less room: the rows already in may take more lines.
    let height =
      widths === this.pendingWidths
        ? this.pendingHeight
        : this.pendingRows.reduce((sum, pending) => sum + this.table.rowHeight(pending, widths), 0);
    const full =
      this.pendingRows.length >= this.rowsPerPage ||
      this.table.headHeight(widths) + height + this.table.rowHeight(row, widths) >
        blockHeight(this.pageCount === 0);
    if (this.pendingRows.length && full) {
      this.flushPage();
      widths = this.table.fit(this.table.minWidths, row);
      height = 0;
    }
    this.pendingRows.push(row);
    this.pendingText.add(cells.customer, language);
    this.pendingWidths = widths;
    this.pendingHeight = height + this.table.rowHeight(row, widths);
  }

  private document(pages: string[], first: boolean, text: CjkText): string {
    const { clientName, startDate, endDate, generatedAt } = this.header;
    const client = escapeHtml(clientName);
    const clientLanguage = first ? this.fonts.language(clientName) : undefined;
    const fontFaces = this.fonts.fontFaces(
      first ? new CjkText().addAll(text).add(clientName, clientLanguage) : text,
    );
    const period = formatPeriod(startDate, endDate, this.timeZone);
    const heading = first
      ? '<h1>Orders report</h1><div class="top"><dl class="meta">' +
        `<dt>Client</dt><dd>${bdi(client, clientLanguage)}</dd>` +
        `<dt>Period</dt><dd>${escapeHtml(period)}</dd>` +
        `<dt>Generated</dt><dd>${this.formatMinute(generatedAt)} (${escapeHtml(this.timeZone)})</dd></dl>` +
        this.summaryHtml() +
        '</div>' +
        (this.count === 0 ? '<p class="empty">No orders in this period</p>' : '')
      : '';
    return (
      `<!DOCTYPE html><html lang="${DOCUMENT_LANGUAGE}"><head><meta charset="utf-8">` +
      // Defence in depth: the renderer also disables JavaScript and blocks every request.
      // Fonts from data: URLs only: the CJK subsets. (Puppeteer's setContent writes into the same
      // document, which keeps the policies of every earlier one: each must allow them.)
      `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:">` +
      `<title>${escapeHtml(documentTitle(documentSubject(clientName, period)))}</title>` +
      `<style>${fontFaces}${STYLE}</style></head><body>` +
      heading +
      pages.join('\n') +
      '</body></html>'
    );
  }

  /**
   * The order count and the totals per currency, SUMMARY_LINES to a column (what the first page
   * keeps room for), in two columns at most beside the details: more than nine currencies make
   * the columns longer, and push the first page's orders onto the next.
   */
  private summaryHtml(): string {
    const entries = [
      ['Orders', this.count.toLocaleString('en')],
      ...[...this.totals.entries()]
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([currency, sum]) => [`Total ${currency}`, displayAmount(sum, currency)]),
    ];
    const lines = Math.max(SUMMARY_LINES, Math.ceil(entries.length / 2));
    return (
      `<section class="summary"><h2>Summary</h2><dl style="grid-template-rows:repeat(${lines},auto)">` +
      entries
        .map(
          ([name, value]) => `<div><dt>${escapeHtml(name)}</dt><dd>${escapeHtml(value)}</dd></div>`,
        )
        .join('') +
      '</dl></section>'
    );
  }

  private flushPage(): void {
    const block = this.table.blockHtml(this.pendingRows, this.pendingWidths);
    this.pages.push(block);
    this.pagesText.addAll(this.pendingText);
    this.pendingText = new CjkText();
    this.pagesRows += this.pendingRows.length;
    this.pagesChars += block.length;
    this.pageCount += 1;
    this.pendingRows = [];
    this.pendingWidths = this.table.minWidths;
    this.pendingHeight = 0;
    // A builder that cuts no parts (partRows Infinity) prints one document, whatever its length.
    const full =
      this.pagesRows >= this.partRows ||
      (Number.isFinite(this.partRows) && this.pagesChars >= PART_MAX_HTML_CHARS);
    if (full) this.cutPart();
  }

  private cutPart(): void {
    if (!this.firstPart) {
      this.firstPart = this.pages;
      this.firstPartText = this.pagesText;
    } else {
      this.ready.push({
        index: this.nextIndex,
        html: this.document(this.pages, false, this.pagesText),
      });
      this.nextIndex += 1;
    }
    this.pages = [];
    this.pagesRows = 0;
    this.pagesChars = 0;
    this.pagesText = new CjkText();
  }
}
