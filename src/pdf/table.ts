/**
 * The table of orders: its columns, sized from their content page block by page block, and the
 * height each row takes, so that the builder fills a page without Chromium's help.
 */
import type { CjkLanguage } from './fonts';
import { bdi, escapeHtml } from './format';
import {
  cellWidth,
  estimateLines,
  FONT_PT,
  headHeight,
  PAGE_WIDTH_MM,
  rowHeight,
  CELL_PAD_X_MM,
} from './layout';

/** What a row prints, as text. */
export interface Cells {
  number: string;
  placed: string;
  customer: string;
  status: string;
  items: string;
  total: string;
}

/** The columns that keep to one line; the customer's takes the width they leave. */
const FIXED = ['number', 'placed', 'status', 'items', 'total'] as const;
export type Widths = Record<(typeof FIXED)[number], number>;

/** A row and what it takes: each one-line cell's width, the customer's lines at a width. */
export interface Row {
  cells: Cells;
  /** The customer's name's language, where its script tells (CjkFonts.language). */
  language?: CjkLanguage;
  needs: Widths;
  lines: number;
  linesAt: number;
}

/**
 * The widest a column grows, in mm, so that the customer keeps at least 40 mm. A longer value
 * prints smaller, still whole on one line.
 */
const MAX_WIDTHS: Widths = { number: 48, placed: 30, status: 24, items: 16, total: 30 };
/** Widths snap up to this grid, so pages of alike content get the same columns. */
const GRID_MM = 2;
/** Kept free at the end of a row: a nowrap line of blocks that overflowed would wrap. */
const ROW_SLACK_MM = 0.5;
/** What typical values take, so that columns stay put from one page to the next. */
const SAMPLES: Partial<Record<keyof Widths, string>> = {
  placed: '0000-00-00 00:00',
  status: 'DELIVERED',
  total: '00,000.00 EUR',
};

const snap = (width: number): number => Math.ceil(width / GRID_MM) * GRID_MM;

export class OrderTable {
  private readonly headings: Record<keyof Cells, string>;
  private readonly headHeights = new WeakMap<Widths, number>();
  /** The widths of a block before any row: the headings' and the samples'. */
  readonly minWidths: Widths;

  constructor(timeZone: string) {
    this.headings = {
      number: 'Order number',
      placed: `Placed at (${timeZone})`,
      customer: 'Customer',
      status: 'Status',
      items: 'Items',
      total: 'Total',
    };
    const placedWords = this.headings.placed.split(' ');
    this.minWidths = {
      number: snap(cellWidth(this.headings.number, true)),
      // A time on one line, and the heading's longest word: the zone may take a line of its own.
      placed: snap(
        Math.max(cellWidth(SAMPLES.placed!), ...placedWords.map((word) => cellWidth(word, true))),
      ),
      status: snap(Math.max(cellWidth(this.headings.status, true), cellWidth(SAMPLES.status!))),
      items: snap(cellWidth(this.headings.items, true)),
      total: snap(Math.max(cellWidth(this.headings.total, true), cellWidth(SAMPLES.total!))),
    };
    for (const column of FIXED) {
      this.minWidths[column] = Math.min(this.minWidths[column], MAX_WIDTHS[column]);
    }
  }

  row(cells: Cells, language?: CjkLanguage): Row {
    const needs = {} as Widths;
    for (const column of FIXED) needs[column] = cellWidth(cells[column]);
    return { cells, language, needs, lines: 0, linesAt: NaN };
  }

  /** The widths a block needs to hold one more row: `widths` itself when they suffice. */
  fit(widths: Widths, row: Row): Widths {
    let fitted = widths;
    for (const column of FIXED) {
      const needed = Math.min(MAX_WIDTHS[column], snap(row.needs[column]));
      if (needed > fitted[column]) fitted = { ...fitted, [column]: needed };
    }
    return fitted;
  }

  customerWidth(widths: Widths): number {
    return PAGE_WIDTH_MM - ROW_SLACK_MM - FIXED.reduce((sum, column) => sum + widths[column], 0);
  }

  headHeight(widths: Widths): number {
    let height = this.headHeights.get(widths);
    if (height === undefined) {
      const lines = (Object.keys(this.headings) as Array<keyof Cells>).map((column) =>
        estimateLines(this.headings[column], this.width(column, widths), true),
      );
      height = headHeight(Math.max(...lines));
      this.headHeights.set(widths, height);
    }
    return height;
  }

  rowHeight(row: Row, widths: Widths): number {
    const width = this.customerWidth(widths);
    if (row.linesAt !== width) {
      row.lines = estimateLines(row.cells.customer, width);
      row.linesAt = width;
    }
    return rowHeight(row.lines);
  }

  /**
   * One page's block of orders. Rows are lines of inline blocks, not a <table>: Chromium paginates
   * table cells several times slower (measured: 10,000 orders printed in 10.7 s as tables, 5.6 s
   * as rows of inline blocks). ARIA roles keep the table semantics. Every block starts with the
   * column headings and is kept on one page, so every page of orders has its headings.
   */
  blockHtml(rows: Row[], widths: Widths): string {
    const style = (['number', 'placed', 'customer', 'status', 'items', 'total'] as const)
      .map((column, i) => `--c${i + 1}:${this.width(column, widths).toFixed(2)}mm`)
      .join(';');
    const { number, placed, customer, status, items, total } = this.headings;
    const head =
      '<div class="row head" role="row">' +
      `<span role="columnheader">${escapeHtml(number)}</span>` +
      // The zone may break after its slashes: "America/Argentina/…" is one long word.
      `<span role="columnheader">${escapeHtml(placed).replace(/\//g, '/<wbr>')}</span>` +
      `<span role="columnheader">${escapeHtml(customer)}</span>` +
      `<span role="columnheader">${escapeHtml(status)}</span>` +
      `<span class="num" role="columnheader">${escapeHtml(items)}</span>` +
      `<span class="num" role="columnheader">${escapeHtml(total)}</span></div>`;
    const body = rows.map(
      (row) =>
        '<div class="row" role="row">' +
        this.cell(row, 'number', widths) +
        this.cell(row, 'placed', widths) +
        `<span class="who" role="cell">${bdi(escapeHtml(row.cells.customer), row.language)}</span>` +
        this.cell(row, 'status', widths) +
        this.cell(row, 'items', widths, 'num') +
        this.cell(row, 'total', widths, 'num') +
        '</div>',
    );
    return `<section class="orders" role="table" style="${style}">${head}${body.join('')}</section>`;
  }

  private width(column: keyof Cells, widths: Widths): number {
    return column === 'customer' ? this.customerWidth(widths) : widths[column];
  }

  /** A one-line cell; a value wider than its column at its widest prints smaller. */
  private cell(row: Row, column: keyof Widths, widths: Widths, className?: string): string {
    const text = row.cells[column];
    const size =
      row.needs[column] > widths[column]
        ? ` style="font-size:${(
            (FONT_PT * (widths[column] - 2 * CELL_PAD_X_MM)) /
            (row.needs[column] - 2 * CELL_PAD_X_MM)
          ).toFixed(2)}pt"`
        : '';
    const classes = className ? ` class="${className}"` : '';
    return `<span${classes} role="cell"${size}>${escapeHtml(text)}</span>`;
  }
}
