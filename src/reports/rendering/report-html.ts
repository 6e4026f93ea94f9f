/** The report's HTML: a pure function of the rows, printed by PdfRenderer. No Nest, no I/O. */
import { formatMinorUnits, toMinorUnits } from '../../common/money';
import type { PeriodOrder } from '../../orders/orders.repository';

export interface ReportHeader {
  clientName: string;
  /** YYYY-MM-DD, inclusive. */
  startDate: string;
  /** YYYY-MM-DD, exclusive. */
  endDate: string;
  generatedAt: Date;
}

/** What a row of the table prints of an order. */
export type ReportRow = Omit<PeriodOrder, 'id'>;

const HTML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/**
 * Escapes text for HTML content and attribute values. C0 control characters (NUL included) and DEL
 * are dropped: they have no glyph, and NUL is replaced by U+FFFD by the HTML parser anyway. Tab, LF
 * and CR are kept; HTML collapses them to spaces. Lone surrogates, which cannot cross the DevTools
 * protocol as UTF-8, become U+FFFD.
 */
export function escapeHtml(value: string): string {
  return (
    value
      .replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD')
      // eslint-disable-next-line no-control-regex -- matching control characters is the point
      .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/g, '')
      .replace(/[&<>"']/g, (char) => HTML_ESCAPES[char])
  );
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad = (n: number): string => String(n).padStart(2, '0');

function parseDay(day: string): Date {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day);
  if (!match) throw new Error(`Invalid date "${day}", expected YYYY-MM-DD`);
  return new Date(Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3])));
}

/** "1 Oct 2021": a day name nobody misreads (no 10/01 vs 01/10 ambiguity). */
function humanDay(date: Date): string {
  return `${date.getUTCDate()} ${MONTHS[date.getUTCMonth()]} ${date.getUTCFullYear()}`;
}

/** `YYYY-MM-DD HH:mm` in UTC. */
export function formatUtcMinute(date: Date): string {
  return (
    `${date.getUTCFullYear()}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())} ` +
    `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}`
  );
}

/** "1 Oct 2021 – 31 Oct 2021 (UTC)" for [2021-10-01, 2021-11-01): the end date is exclusive. */
export function formatPeriod(startDate: string, endDate: string): string {
  const start = parseDay(startDate);
  const lastDay = new Date(parseDay(endDate).getTime() - 86_400_000);
  if (lastDay.getTime() <= start.getTime()) return `${humanDay(start)} (UTC)`;
  return `${humanDay(start)} – ${humanDay(lastDay)} (UTC)`;
}

function groupThousands(digits: string): string {
  return digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** Minor units for display: 123456750n → "1,234,567.50", exact (never through a float). */
function displayAmount(minor: bigint): string {
  const [whole, fraction] = formatMinorUnits(minor).split('.');
  return `${groupThousands(whole)}.${fraction}`;
}

const STYLE = `
@page { size: A4; }
* { box-sizing: border-box; }
html { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
body { margin: 0; font-family: "DejaVu Sans", Arial, sans-serif; font-size: 8.5pt; color: #1a1a1a;
  line-height: 1.3; overflow-wrap: anywhere; word-break: break-word; }
h1 { font-size: 17pt; margin: 0 0 2mm; font-weight: bold; }
.meta { display: grid; grid-template-columns: max-content 1fr; gap: 1mm 6mm; margin: 0 0 5mm; font-size: 9.5pt; }
.meta dt { color: #555; }
.meta dd { margin: 0; min-width: 0; }
.summary { width: fit-content; min-width: 80mm; max-width: 100%; border: 0.3mm solid #c8ccd2;
  background: #f4f6f8; padding: 3mm 4mm; margin: 0 0 6mm;
  break-inside: avoid; }
.summary h2 { font-size: 10pt; margin: 0 0 2mm; }
.summary table { border-collapse: collapse; font-size: 9.5pt; }
.summary th { text-align: left; font-weight: normal; color: #555; padding: 0.5mm 8mm 0.5mm 0; }
.summary td { text-align: right; font-variant-numeric: tabular-nums; padding: 0.5mm 0; white-space: nowrap; }
.orders { margin: 0 0 4mm; break-inside: avoid; }
.orders .row { break-inside: avoid; border-bottom: 0.2mm solid #dde1e6; }
.orders .row:nth-child(odd) { background: #f8f9fa; }
.orders .row > span { display: inline-block; vertical-align: top; padding: 0.8mm 1.5mm; }
.orders .row.head { background: #e8ebef; font-weight: bold; border-bottom: 0.3mm solid #9aa3ad; }
.orders .row.head > span { padding: 1.2mm 1.5mm; }
.orders .num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.orders .placed { font-variant-numeric: tabular-nums; white-space: nowrap; }
.orders .total { white-space: normal; }
.orders .row > :nth-child(1) { width: 17%; } .orders .row > :nth-child(2) { width: 16%; }
.orders .row > :nth-child(3) { width: 31%; } .orders .row > :nth-child(4) { width: 12%; }
.orders .row > :nth-child(5) { width: 7%; } .orders .row > :nth-child(6) { width: 17%; }
.empty { padding: 8mm 0; text-align: center; font-size: 11pt; color: #555;
  border: 0.3mm dashed #c8ccd2; }
`.replace(/\n\s*/g, ' ');

/** How many rows the first page's title, details and summary take up (measured, A4). */
const FIRST_PAGE_HEADER_ROWS = 12;

/**
 * How many characters of each wrapping column fit on one line, measured on the widest Latin
 * capitals (A4, 8.5 pt DejaVu Sans): an estimate that errs towards more lines.
 */
const CHARS_PER_LINE = { number: 16, customer: 26, status: 10, total: 16 };

/** Lines `text` takes in a column of `perLine` characters; East Asian wide characters count two. */
export function estimateLines(text: string, perLine: number): number {
  let width = 0;
  for (const char of text) width += char.codePointAt(0)! >= 0x1100 ? 2 : 1;
  return Math.max(1, Math.ceil(width / perLine));
}

/**
 * One page's block of orders. Rows are lines of inline blocks, not a <table>: Chromium paginates
 * table cells several times slower (measured: 10,000 orders printed in 10.7 s as tables, 5.6 s as
 * rows of inline blocks). ARIA roles keep the table semantics. Every block starts with the column
 * headings and is kept on one page, so every page of orders has its headings.
 */
const PAGE_HEAD =
  '<section class="orders" role="table"><div class="row head" role="row">' +
  '<span role="columnheader">Order number</span><span role="columnheader">Placed at (UTC)</span>' +
  '<span role="columnheader">Customer</span><span role="columnheader">Status</span>' +
  '<span class="num" role="columnheader">Items</span><span class="num" role="columnheader">Total</span></div>';
const PAGE_TAIL = '</section>';

/** One document to print, and where its pages go in the joined PDF. */
export interface ReportPart {
  index: number;
  html: string;
}

/**
 * Builds the report incrementally, as rows are read. Rows are grouped into blocks of `rowsPerPage`
 * rows, one A4 page each (the first one shorter). Blocks are cut into parts of about `partRows`
 * rows, documents printed one by one: Chromium's print time grows with a document's length, and
 * a part can print while the next rows are read. Part 0 carries the title and the summary, so it
 * is handed out last, once every row is in; the others as soon as they are full. Only part 0 and
 * the part being filled are held, whatever the report's length.
 */
export class ReportHtmlBuilder {
  /** Sizes parts evenly: 1,000 orders make one part, not 975 + 25 (every part costs a print). */
  static partRows(expectedOrders: number, rowsPerPart: number): number {
    if (!Number.isFinite(rowsPerPart)) return Infinity;
    const parts = Math.max(1, Math.round(expectedOrders / rowsPerPart));
    return Math.max(1, Math.ceil(expectedOrders / parts));
  }

  /** Finished blocks of the part being filled, and the rows they hold. */
  private pages: string[] = [];
  private pagesRows = 0;
  private pageCount = 0;
  /** Part 0's blocks, kept until the summary is known. */
  private firstPart?: string[];
  private ready: ReportPart[] = [];
  private nextIndex = 1;
  private finished = false;
  private pendingRows: string[] = [];
  /** Lines the pending rows take: a block holds `rowsPerPage` one-line rows, fewer taller ones. */
  private pendingLines = 0;
  private readonly totals = new Map<string, bigint>();
  private count = 0;

  constructor(
    private readonly header: ReportHeader,
    private readonly rowsPerPage: number,
    readonly partRows = Infinity,
  ) {
    if (!Number.isInteger(rowsPerPage) || rowsPerPage < 1) {
      throw new Error(`rowsPerPage must be a positive integer, got ${rowsPerPage}`);
    }
    // Fail on a bad period now rather than after the rows were read.
    formatPeriod(header.startDate, header.endDate);
  }

  /** Page 1 also carries the title, the details and the summary, so its block is shorter. */
  get firstPageRows(): number {
    return Math.max(1, this.rowsPerPage - FIRST_PAGE_HEADER_ROWS);
  }

  get orderCount(): number {
    return this.count;
  }

  addRows(rows: ReportRow[]): void {
    if (this.finished) throw new Error('The report is already finished');
    for (const row of rows) {
      const amount = toMinorUnits(row.total);
      const currency = row.currency.trim().toUpperCase();
      this.totals.set(currency, (this.totals.get(currency) ?? 0n) + amount);
      this.count += 1;
      const total = `${displayAmount(amount)} ${currency}`;
      const lines = Math.max(
        estimateLines(row.number, CHARS_PER_LINE.number),
        estimateLines(row.customerName, CHARS_PER_LINE.customer),
        estimateLines(row.status, CHARS_PER_LINE.status),
        estimateLines(total, CHARS_PER_LINE.total),
      );
      const limit = this.pageCount ? this.rowsPerPage : this.firstPageRows;
      if (this.pendingRows.length && this.pendingLines + lines > limit) this.flushPage();
      this.pendingRows.push(
        `<div class="row" role="row"><span role="cell">${escapeHtml(row.number)}</span>` +
          `<span class="placed" role="cell">${formatUtcMinute(row.placedAt)}</span>` +
          `<span dir="auto" role="cell">${escapeHtml(row.customerName)}</span>` +
          `<span role="cell">${escapeHtml(row.status)}</span>` +
          `<span class="num" role="cell">${row.itemCount}</span>` +
          `<span class="num total" role="cell">${escapeHtml(total)}</span></div>`,
      );
      this.pendingLines += lines;
    }
  }

  /** The parts filled since the last call, part 0 excepted. */
  takeReady(): ReportPart[] {
    const ready = this.ready;
    this.ready = [];
    return ready;
  }

  /** Every part not yet taken, part 0 last: the rows are all in, the summary is known. */
  finish(): ReportPart[] {
    if (this.finished) throw new Error('The report is already finished');
    if (this.pendingRows.length) this.flushPage();
    if (this.pages.length && this.firstPart) this.cutPart();
    this.finished = true;
    const first = { index: 0, html: this.document(this.firstPart ?? this.pages, true) };
    this.firstPart = undefined;
    this.pages = [];
    return [...this.takeReady(), first];
  }

  /** The whole report as one document (a builder that cuts no parts: `partRows` Infinity). */
  toHtml(): string {
    if (this.firstPart) throw new Error('toHtml() needs a builder that cuts no parts');
    const pending = this.pendingRows.length
      ? [PAGE_HEAD + this.pendingRows.join('') + PAGE_TAIL]
      : [];
    return this.document([...this.pages, ...pending], true);
  }

  private document(pages: string[], first: boolean): string {
    const { clientName, startDate, endDate, generatedAt } = this.header;
    const client = escapeHtml(clientName);
    const heading = first
      ? '<h1>Orders report</h1><dl class="meta">' +
        `<dt>Client</dt><dd><bdi>${client}</bdi></dd>` +
        `<dt>Period</dt><dd>${escapeHtml(formatPeriod(startDate, endDate))}</dd>` +
        `<dt>Generated</dt><dd>${formatUtcMinute(generatedAt)} UTC</dd></dl>` +
        this.summaryHtml() +
        (this.count === 0 ? '<p class="empty">No orders in this period</p>' : '')
      : '';
    return (
      '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">' +
      // Defence in depth: the renderer also disables JavaScript and blocks every request.
      `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">` +
      `<title>Orders report – ${client}</title><style>${STYLE}</style></head><body>` +
      heading +
      pages.join('\n') +
      '</body></html>'
    );
  }

  private summaryHtml(): string {
    const totals = [...this.totals.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(
        ([currency, sum]) =>
          `<tr><th>Total ${escapeHtml(currency)}</th><td>${displayAmount(sum)} ${escapeHtml(currency)}</td></tr>`,
      )
      .join('');
    return (
      '<section class="summary"><h2>Summary</h2><table>' +
      `<tr><th>Orders</th><td>${groupThousands(String(this.count))}</td></tr>${totals}</table></section>`
    );
  }

  private flushPage(): void {
    this.pages.push(PAGE_HEAD + this.pendingRows.join('') + PAGE_TAIL);
    this.pagesRows += this.pendingRows.length;
    this.pageCount += 1;
    this.pendingRows = [];
    this.pendingLines = 0;
    if (this.pagesRows >= this.partRows) this.cutPart();
  }

  private cutPart(): void {
    if (!this.firstPart) {
      this.firstPart = this.pages;
    } else {
      this.ready.push({ index: this.nextIndex, html: this.document(this.pages, false) });
      this.nextIndex += 1;
    }
    this.pages = [];
    this.pagesRows = 0;
  }
}
