import {
  escapeHtml,
  estimateLines,
  formatPeriod,
  ReportHeader,
  ReportHtmlBuilder,
  ReportPart,
  ReportRow,
} from './report-html';

const header: ReportHeader = {
  clientName: 'Acme Shop',
  startDate: '2021-10-01',
  endDate: '2021-11-01',
  generatedAt: new Date('2021-11-02T08:15:42Z'),
};

function row(overrides: Partial<ReportRow> = {}): ReportRow {
  return {
    number: 'ORD-1',
    placedAt: new Date('2021-10-05T13:07:59Z'),
    customerName: 'Jane Doe',
    status: 'delivered',
    itemCount: 2,
    total: '25.00',
    currency: 'EUR',
    ...overrides,
  };
}

function rows(count: number): ReportRow[] {
  return Array.from({ length: count }, (_, i) => row({ number: `ORD-${i}` }));
}

const countPages = (html: string): number =>
  html.match(/<section class="orders" role="table">/g)?.length ?? 0;
const ORDER_NUMBER = /<div class="row" role="row"><span role="cell">ORD-\d+<\/span>/g;

describe('estimateLines', () => {
  it('counts the lines a column wraps text onto, wide characters counting two', () => {
    expect(estimateLines('', 26)).toBe(1);
    expect(estimateLines('a'.repeat(26), 26)).toBe(1);
    expect(estimateLines('a'.repeat(27), 26)).toBe(2);
    expect(estimateLines('山'.repeat(13), 26)).toBe(1);
    expect(estimateLines('山'.repeat(14), 26)).toBe(2);
  });
});

describe('escapeHtml', () => {
  it('turns an img tag into inert text', () => {
    expect(escapeHtml('<img src="http://127.0.0.1:9/x">')).toBe(
      '&lt;img src=&quot;http://127.0.0.1:9/x&quot;&gt;',
    );
  });

  it('escapes ampersands and both quotes', () => {
    expect(escapeHtml(`Tom & Jerry's "shop"`)).toBe('Tom &amp; Jerry&#39;s &quot;shop&quot;');
  });

  it('drops NUL and other C0 control characters but keeps tabs and newlines', () => {
    expect(escapeHtml('a\u0000b\u0007c\u001Fd\u007Fe\tf\ng')).toBe('abcde\tf\ng');
  });

  it('replaces lone surrogates and keeps emoji and RTL text', () => {
    expect(escapeHtml('x\uD800y')).toBe('x\uFFFDy');
    expect(escapeHtml('😀 مرحبا')).toBe('😀 مرحبا');
  });
});

describe('formatPeriod', () => {
  it('shows the last included day of an exclusive end date', () => {
    expect(formatPeriod('2021-10-01', '2021-11-01')).toBe('1 Oct 2021 – 31 Oct 2021 (UTC)');
  });

  it('shows a one-day period as that day', () => {
    expect(formatPeriod('2021-12-31', '2022-01-01')).toBe('31 Dec 2021 (UTC)');
  });

  it('handles a leap day at the end of February', () => {
    expect(formatPeriod('2024-02-01', '2024-03-01')).toBe('1 Feb 2024 – 29 Feb 2024 (UTC)');
  });

  it('rejects a malformed date', () => {
    expect(() => formatPeriod('2021-10-1', '2021-11-01')).toThrow('Invalid date');
  });
});

describe('amounts as the report prints them', () => {
  const printed = (total: string) => {
    const builder = new ReportHtmlBuilder(header, 40);
    builder.addRows([row({ total, currency: 'EUR' })]);
    return builder.toHtml();
  };

  it('groups thousands and keeps every decimal', () => {
    expect(printed('1234567.5')).toContain('1,234,567.50 EUR');
    expect(printed('3')).toContain('3.00 EUR');
  });

  it('rejects what is not a decimal', () => {
    expect(() => printed('1e3')).toThrow('Not a money amount');
  });
});

describe('ReportHtmlBuilder', () => {
  it('prints a customer name holding markup as literal text', () => {
    const builder = new ReportHtmlBuilder({ ...header, clientName: 'O\'Brien & "Sons" <b>' }, 40);
    builder.addRows([row({ customerName: '<img src="http://127.0.0.1:9/x">\u0000' })]);
    const html = builder.toHtml();

    expect(html).not.toContain('<img');
    expect(html).not.toContain('\u0000');
    expect(html).toContain('&lt;img src=&quot;http://127.0.0.1:9/x&quot;&gt;');
    expect(html).toContain('O&#39;Brien &amp; &quot;Sons&quot; &lt;b&gt;');
  });

  it('adds totals exactly per currency: 0.10 + 0.20 is 0.30', () => {
    const builder = new ReportHtmlBuilder(header, 40);
    builder.addRows([
      row({ total: '0.10', currency: 'EUR' }),
      row({ total: '0.20', currency: 'EUR' }),
      row({ total: '999999999999999.99', currency: 'USD' }),
    ]);
    builder.addRows([row({ total: '0.01', currency: 'USD' })]);
    const html = builder.toHtml();

    expect(0.1 + 0.2).not.toBe(0.3);
    expect(html).toContain('<th>Total EUR</th><td>0.30 EUR</td>');
    expect(html).toContain('<th>Total USD</th><td>1,000,000,000,000,000.00 USD</td>');
    expect(html).toContain('<th>Orders</th><td>4</td>');
    expect(builder.orderCount).toBe(4);
  });

  it('lists the currencies in alphabetical order', () => {
    const builder = new ReportHtmlBuilder(header, 40);
    builder.addRows([row({ currency: 'USD' }), row({ currency: 'EUR' }), row({ currency: 'GBP' })]);
    const html = builder.toHtml();

    expect(html.indexOf('Total EUR')).toBeLessThan(html.indexOf('Total GBP'));
    expect(html.indexOf('Total GBP')).toBeLessThan(html.indexOf('Total USD'));
  });

  it('says "No orders in this period" and prints no order rows when there are no orders', () => {
    const builder = new ReportHtmlBuilder(header, 40);
    builder.addRows([]);
    const html = builder.toHtml();

    expect(html).toContain('No orders in this period');
    expect(countPages(html)).toBe(0);
    expect(html).toContain('<th>Orders</th><td>0</td>');
  });

  it('prints the header: title, client, period with its last included day, generation time', () => {
    const html = new ReportHtmlBuilder(header, 40).toHtml();

    expect(html).toContain('<h1>Orders report</h1>');
    expect(html).toContain('Acme Shop');
    expect(html).toContain('1 Oct 2021 – 31 Oct 2021 (UTC)');
    expect(html).toContain('2021-11-02 08:15 UTC');
  });

  it('prints each row with placed-at in UTC minutes and the total with its currency', () => {
    const builder = new ReportHtmlBuilder(header, 40);
    builder.addRows([row({ number: 'ORD-42', total: '1234.5', itemCount: 3 })]);
    const html = builder.toHtml();

    expect(html).toContain(
      '<span role="cell">ORD-42</span><span class="placed" role="cell">2021-10-05 13:07</span>',
    );
    expect(html).toContain(
      '<span class="num" role="cell">3</span><span class="num total" role="cell">1,234.50 EUR</span>',
    );
  });

  it('splits rows into page blocks of rowsPerPage, the first one shorter by the page header', () => {
    const builder = new ReportHtmlBuilder(header, 40);
    const first = builder.firstPageRows;
    builder.addRows(rows(700));
    builder.addRows(rows(300));
    const html = builder.toHtml();

    expect(first).toBeLessThan(40);
    const blocks = html.split('<section class="orders" role="table">').slice(1);
    const rowCounts = blocks.map((block) => (block.match(ORDER_NUMBER) ?? []).length);
    expect(rowCounts[0]).toBe(first);
    expect(rowCounts.slice(1, -1).every((count) => count === 40)).toBe(true);
    expect(rowCounts.reduce((a, b) => a + b, 0)).toBe(1000);
    expect(blocks.length).toBe(1 + Math.ceil((1000 - first) / 40));
    // Every page's block starts with the column headings.
    expect(
      blocks.every((block) =>
        block.startsWith('<div class="row head" role="row"><span role="columnheader">Order number'),
      ),
    ).toBe(true);
  });

  it('puts fewer rows in a block when long names wrap, so the block still fits its page', () => {
    const builder = new ReportHtmlBuilder(header, 40);
    // 60 characters: three lines in the customer column.
    builder.addRows(Array.from({ length: 200 }, () => row({ customerName: 'N'.repeat(60) })));
    const blocks = builder.toHtml().split('<section class="orders" role="table">').slice(1);

    expect(
      blocks.slice(1, -1).map((block) => (block.match(/role="row"/g) ?? []).length - 1),
    ).toEqual(Array(blocks.length - 2).fill(13));
  });

  it('keeps the row order across batches', () => {
    const builder = new ReportHtmlBuilder(header, 10);
    builder.addRows(rows(15));
    builder.addRows([row({ number: 'LAST' })]);
    const html = builder.toHtml();

    expect(html.indexOf('ORD-14')).toBeLessThan(html.indexOf('LAST'));
    expect(html.indexOf('ORD-0<')).toBeLessThan(html.indexOf('ORD-1<'));
  });

  it('gives toHtml the same answer when called twice', () => {
    const builder = new ReportHtmlBuilder(header, 10);
    builder.addRows(rows(15));
    expect(builder.toHtml()).toBe(builder.toHtml());
  });

  it('rejects a malformed total', () => {
    const builder = new ReportHtmlBuilder(header, 40);
    expect(() => builder.addRows([row({ total: '25,00' })])).toThrow('Not a money amount');
  });

  it('keeps 1,000 rows in one part when a part holds about 1,000', () => {
    const builder = new ReportHtmlBuilder(header, 40, ReportHtmlBuilder.partRows(1000, 1000));
    builder.addRows(rows(1000));
    expect(builder.takeReady()).toEqual([]);
    expect(builder.finish()).toHaveLength(1);
  });

  it('hands out full parts as rows arrive, and part 0 with the title and summary last', () => {
    const partRows = ReportHtmlBuilder.partRows(2500, 1000);
    const builder = new ReportHtmlBuilder(header, 40, partRows);
    const whole = new ReportHtmlBuilder(header, 40);
    whole.addRows(rows(2500));
    const handedOut: number[][] = [];
    const parts: ReportPart[] = [];
    for (let start = 0; start < 2500; start += 500) {
      builder.addRows(rows(2500).slice(start, start + 500));
      const ready = builder.takeReady();
      handedOut.push(ready.map((part) => part.index));
      parts.push(...ready);
    }
    parts.push(...builder.finish());

    expect(partRows).toBe(834);
    // Part 1 is full once about 2 × 834 rows are in; part 0 waits for the summary.
    expect(handedOut.flat()).toEqual([1]);
    expect(parts.map((part) => part.index)).toEqual([1, 2, 0]);
    const inOrder = [...parts].sort((a, b) => a.index - b.index).map((part) => part.html);
    const blocks = inOrder.map(countPages);
    expect(blocks.reduce((a, b) => a + b, 0)).toBe(countPages(whole.toHtml()));
    expect(inOrder[0]).toContain('<h1>Orders report</h1>');
    expect(inOrder[0]).toContain('<tr><th>Orders</th><td>2,500</td></tr>');
    for (const part of inOrder.slice(1)) {
      expect(part).not.toContain('Orders report</h1>');
      expect(part).toMatch(/^<!DOCTYPE html>.*<\/html>$/s);
    }
    const numbers = inOrder.join('').match(ORDER_NUMBER) ?? [];
    expect(numbers).toEqual(whole.toHtml().match(ORDER_NUMBER));
    expect(new Set(numbers).size).toBe(2500);
  });

  it('gives an empty report one part that says so', () => {
    const parts = new ReportHtmlBuilder(header, 40, 1000).finish();
    expect(parts).toEqual([
      { index: 0, html: expect.stringContaining('No orders in this period') },
    ]);
  });

  it('takes no rows once finished', () => {
    const builder = new ReportHtmlBuilder(header, 40, 1000);
    builder.finish();
    expect(() => builder.addRows(rows(1))).toThrow('already finished');
  });

  it('loads nothing from outside: no script, no external URL', () => {
    const builder = new ReportHtmlBuilder(header, 40);
    builder.addRows(rows(3));
    const html = builder.toHtml();

    expect(html).not.toMatch(/<script|<link|@import|url\(|https?:\/\//i);
  });
});
