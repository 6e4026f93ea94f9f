import { CjkFonts, cjkFonts } from './cjk-fonts';
import { REPORT_FONTS } from './fonts';
import {
  PART_MAX_HTML_CHARS,
  DocumentHeader,
  DocumentBuilder,
  DocumentPart,
  OrderRow,
} from './template';
import { blockHeight, estimateLines, headHeight, rowHeight } from './layout';
import { STYLE } from './style';

const header: DocumentHeader = {
  clientName: 'Acme Shop',
  startDate: '2021-10-01',
  endDate: '2021-11-01',
  generatedAt: new Date('2021-11-02T08:15:42Z'),
  timeZone: 'UTC',
};

function row(overrides: Partial<OrderRow> = {}): OrderRow {
  return {
    number: 'ORD-1',
    placedAt: new Date('2021-10-05T13:07:59Z'),
    customerName: 'Jane Doe',
    status: 'DELIVERED',
    itemCount: 2,
    total: '25.00',
    currency: 'EUR',
    ...overrides,
  };
}

/** Numbered as the seed numbers orders: ORD-4B6D6D-000001. */
function rows(count: number): OrderRow[] {
  return Array.from({ length: count }, (_, i) =>
    row({ number: `ORD-4B6D6D-${String(i + 1).padStart(6, '0')}` }),
  );
}

const BLOCK = '<section class="orders" role="table"';
const blocksOf = (html: string): string[] => html.split(BLOCK).slice(1);
const rowsIn = (block: string): number =>
  (block.match(/<div class="row" role="row">/g) ?? []).length;
const ORDER_NUMBER = /<div class="row" role="row"><span role="cell">(ORD-[^<]+)<\/span>/g;

function printed(rowsToAdd: OrderRow[], at: Partial<DocumentHeader> = {}): string {
  const builder = new DocumentBuilder({ ...header, ...at }, 60);
  builder.addRows(rowsToAdd);
  return builder.toHtml();
}

describe('amounts as the report prints them', () => {
  it('groups thousands and prints every decimal of the currency', () => {
    expect(printed([row({ total: '1234567.5', currency: 'EUR' })])).toContain('1,234,567.50 EUR');
    expect(printed([row({ total: '2500', currency: 'JPY' })])).toContain('2,500 JPY');
    expect(printed([row({ total: '3.375', currency: 'KWD' })])).toContain('3.375 KWD');
  });

  it('reads totals stored with two decimals in the currency’s own: "2500.00" JPY is 2,500 JPY', () => {
    const html = printed([row({ total: '2500.00', currency: 'JPY' })]);
    expect(html).toContain('>2,500 JPY<');
    expect(html).not.toContain('2,500.00 JPY');
    expect(printed([row({ total: '1.10', currency: 'KWD' })])).toContain('1.100 KWD');
  });

  it('prints a total with more decimals than its currency as stored, never rounded', () => {
    // The orders API took "12.50" for yen before it knew each currency's digits.
    const html = printed([
      row({ total: '12.50', currency: 'JPY' }),
      row({ total: '2500.00', currency: 'JPY' }),
    ]);
    expect(html).toContain('>12.50 JPY<');
    expect(html).toContain('>2,500 JPY<');
    expect(html).toContain('<dt>Total JPY</dt><dd>2,512.50 JPY</dd>');
  });

  it('refuses what is not a decimal, or has more decimals than were ever stored', () => {
    expect(() => printed([row({ total: '12.505', currency: 'JPY' })])).toThrow(
      'Not a money amount in JPY',
    );
    expect(() => printed([row({ total: '1e3' })])).toThrow('Not a money amount');
    expect(() => printed([row({ total: '25,00' })])).toThrow('Not a money amount');
  });

  it('adds totals exactly per currency, each with its digits: 0.10 + 0.20 is 0.30', () => {
    const html = printed([
      row({ total: '0.10', currency: 'EUR' }),
      row({ total: '0.20', currency: 'EUR' }),
      row({ total: '999999999999999.99', currency: 'USD' }),
      row({ total: '0.01', currency: 'USD' }),
      row({ total: '1250', currency: 'JPY' }),
      row({ total: '1250.00', currency: 'jpy' }),
      row({ total: '1.125', currency: 'KWD' }),
      row({ total: '2.25', currency: 'KWD' }),
    ]);

    expect(0.1 + 0.2).not.toBe(0.3);
    expect(html).toContain('<dt>Total EUR</dt><dd>0.30 EUR</dd>');
    expect(html).toContain('<dt>Total USD</dt><dd>1,000,000,000,000,000.00 USD</dd>');
    expect(html).toContain('<dt>Total JPY</dt><dd>2,500 JPY</dd>');
    expect(html).toContain('<dt>Total KWD</dt><dd>3.375 KWD</dd>');
    expect(html).toContain('<dt>Orders</dt><dd>8</dd>');
  });

  it('lists the currencies in alphabetical order, after the count', () => {
    const html = printed([
      row({ currency: 'USD' }),
      row({ currency: 'EUR' }),
      row({ currency: 'GBP' }),
    ]);

    expect(html.indexOf('<dt>Orders')).toBeLessThan(html.indexOf('Total EUR'));
    expect(html.indexOf('Total EUR')).toBeLessThan(html.indexOf('Total GBP'));
    expect(html.indexOf('Total GBP')).toBeLessThan(html.indexOf('Total USD'));
  });
});

describe('times in the report’s zone', () => {
  it('prints placed-at, the generation time, the period and the column in UTC by default', () => {
    const builder = new DocumentBuilder({ ...header, timeZone: undefined }, 60);
    builder.addRows([row()]);
    const html = builder.toHtml();

    expect(html).toContain('<span role="cell">2021-10-05 13:07</span>');
    expect(html).toContain('<dd>2021-11-02 08:15 (UTC)</dd>');
    expect(html).toContain('1 Oct 2021 – 31 Oct 2021 (UTC)');
    expect(html).toContain('<span role="columnheader">Placed at (UTC)</span>');
  });

  it('prints them in the zone given, on either side of the DST change, and names it', () => {
    const html = printed(
      [
        row({ number: 'SUMMER', placedAt: new Date('2021-10-31T00:30:00Z') }),
        row({ number: 'WINTER', placedAt: new Date('2021-10-31T01:30:00Z') }),
      ],
      { timeZone: 'Europe/Paris' },
    );

    expect(html.match(/<span role="cell">2021-10-31 02:30<\/span>/g)).toHaveLength(2);
    expect(html).toContain('<dd>2021-11-02 09:15 (Europe/Paris)</dd>');
    expect(html).toContain('<dd>1 Oct 2021 – 31 Oct 2021 (Europe/Paris)</dd>');
    expect(html).toContain('Placed at (Europe/<wbr>Paris)');
  });

  it('refuses an unknown zone before any row is read', () => {
    expect(() => new DocumentBuilder({ ...header, timeZone: 'Europe/Atlantis' }, 60)).toThrow(
      RangeError,
    );
  });
});

describe('DocumentBuilder', () => {
  it('prints a customer name holding markup as literal text', () => {
    const html = printed([row({ customerName: '<img src="http://127.0.0.1:9/x">\u0000' })], {
      clientName: 'O\'Brien & "Sons" <b>',
    });

    expect(html).not.toContain('<img');
    expect(html).not.toContain('\u0000');
    expect(html).toContain('&lt;img src=&quot;http://127.0.0.1:9/x&quot;&gt;');
    expect(html).toContain('O&#39;Brien &amp; &quot;Sons&quot; &lt;b&gt;');
  });

  it('isolates names in <bdi>, so that right-to-left ones keep their direction', () => {
    const html = printed([row({ customerName: 'محمد علي' })], { clientName: 'דוד כהן בע"מ' });

    expect(html).toContain('<span class="who" role="cell"><bdi>محمد علي</bdi></span>');
    expect(html).toContain('<dd><bdi>דוד כהן בע&quot;מ</bdi></dd>');
  });

  it('names every Noto font in its stack and never breaks inside a word of the one-line cells', () => {
    for (const { family } of REPORT_FONTS.filter((font) => font.family.startsWith('Noto'))) {
      expect(STYLE).toContain(`"${family}"`);
    }
    expect(STYLE).not.toContain('anywhere');
    expect(STYLE).not.toContain('break-all');
    expect(STYLE).toMatch(/\.orders \.row > span \{[^}]*white-space: nowrap/);
  });

  it('titles the document with the client and the period, in English', () => {
    const html = printed([], { clientName: 'Sakura Shop 株式会社', timeZone: 'Asia/Tokyo' });

    expect(html).toContain(
      '<title>Orders report – Sakura Shop 株式会社, 1 Oct 2021 – 31 Oct 2021 (Asia/Tokyo)</title>',
    );
    expect(html).toContain('<html lang="en">');
  });

  it('says "No orders in this period" and prints no order rows when there are no orders', () => {
    const html = printed([]);

    expect(html).toContain('No orders in this period');
    expect(blocksOf(html)).toHaveLength(0);
    expect(html).toContain('<dt>Orders</dt><dd>0</dd>');
  });

  it('fills each page: 52 seeded orders a page, fewer on the first, each block headed', () => {
    const builder = new DocumentBuilder(header, 60);
    builder.addRows(rows(700));
    builder.addRows(rows(300).map((r, i) => ({ ...r, number: `ORD-4B6D6D-${700 + i + 1}` })));
    const blocks = blocksOf(builder.toHtml());
    const counts = blocks.map(rowsIn);

    expect(counts[0]).toBeGreaterThanOrEqual(40);
    expect(counts[0]).toBeLessThan(counts[1]);
    expect(counts.slice(1, -1)).toEqual(Array(counts.length - 2).fill(52));
    expect(counts.reduce((a, b) => a + b, 0)).toBe(1000);
    expect(blocks.length).toBeLessThanOrEqual(25);
    for (const block of blocks) {
      expect(block).toMatch(/^ style="[^"]+"><div class="row head" role="row">/);
    }
  });

  it('keeps each block within its page: a block never holds a row that would overflow it', () => {
    // Every row a page holds is one line; one more would not fit.
    const firstRows = Math.floor((blockHeight(true) - headHeight(1)) / rowHeight(1));
    const otherRows = Math.floor((blockHeight(false) - headHeight(1)) / rowHeight(1));
    const counts = blocksOf(printed(rows(200))).map(rowsIn);

    expect(counts.slice(0, 3)).toEqual([firstRows, otherRows, otherRows]);
  });

  it('holds no more than rowsPerPage orders in a block', () => {
    const builder = new DocumentBuilder(header, 10);
    builder.addRows(rows(35));
    expect(blocksOf(builder.toHtml()).map(rowsIn)).toEqual([10, 10, 10, 5]);
  });

  it('prints a customer name stored before the 200-character bound cut to it, with an ellipsis', () => {
    // 10,000 characters, as orders were taken before the bound; an emoji straddles the cut.
    const long = `${'A'.repeat(198)}\u{1F600}${'B'.repeat(9800)}`;
    const html = printed([row({ customerName: long }), row({ customerName: 'C'.repeat(200) })]);

    expect(html).toContain(`${'A'.repeat(198)}\u2026`);
    expect(html).not.toContain('AB');
    expect(html).not.toContain('\u{1F600}');
    expect(html).toContain('C'.repeat(200));
    expect(html.length).toBeLessThan(30000);
  });

  it('cuts a part at PART_MAX_HTML_CHARS of HTML before its rows are in, when long names make rows large', () => {
    const named = (name: string) => rows(3000).map((r) => ({ ...r, customerName: name }));
    const partsOf = (list: OrderRow[]) => {
      const builder = new DocumentBuilder(header, 52, 1000);
      builder.addRows(list);
      return builder.finish();
    };
    // Typical names: parts of 1,000 rows, as RENDER_ROWS_PER_PART says.
    expect(partsOf(named('Jane Doe'))).toHaveLength(3);

    const long = partsOf(named('Åsa & Zoë '.repeat(20)));
    expect(long.length).toBeGreaterThan(3);
    const rowCount = long.map((part) => part.html.split('<div class="row" role="row">').length - 1);
    expect(rowCount.reduce((sum, count) => sum + count, 0)).toBe(3000);
    for (const part of long) {
      // The part's own HTML (its pages), apart from the head and part 0's title and summary.
      expect(part.html.length).toBeLessThan(PART_MAX_HTML_CHARS + 20000 + STYLE.length);
    }
  });

  it('puts fewer rows in a block when long names wrap, so the block still fits its page', () => {
    const long =
      'Maria Anna Sophia Wolfeschlegelsteinhausenbergerdorff von Hohenzollern und Sachsen';
    const blocks = blocksOf(printed(rows(300).map((r) => ({ ...r, customerName: long }))));
    const customerWidth = Number(/--c3:([\d.]+)mm/.exec(blocks[1])![1]);
    const lines = estimateLines(long, customerWidth);

    expect(lines).toBe(3);
    expect(rowsIn(blocks[1])).toBe(
      Math.floor((blockHeight(false) - headHeight(1)) / rowHeight(lines)),
    );
  });

  it('widens the number column for its page only, and keeps every number on one line', () => {
    const html = printed([
      ...rows(60),
      row({ number: 'SHOP-DE-20230115-000123' }),
      ...rows(100).slice(60),
    ]);
    const widths = blocksOf(html).map((block) => Number(/--c1:([\d.]+)mm/.exec(block)![1]));

    expect(widths[0]).toBe(widths[2]);
    expect(widths[1]).toBeGreaterThan(widths[0]);
    expect(html.includes('<span role="cell">SHOP-DE-20230115-000123</span>')).toBe(true);
  });

  it('prints an order number too long for any column smaller, still whole', () => {
    const number = 'W'.repeat(64);
    const html = printed([row({ number })]);

    expect(html).toMatch(
      new RegExp(`<span role="cell" style="font-size:[\\d.]+pt">${number}</span>`),
    );
  });

  it('keeps the row order across batches', () => {
    const builder = new DocumentBuilder(header, 10);
    builder.addRows(rows(15));
    builder.addRows([row({ number: 'ORD-LAST' })]);
    const numbers = [...builder.toHtml().matchAll(ORDER_NUMBER)].map((match) => match[1]);

    expect(numbers).toHaveLength(16);
    expect(numbers[0]).toBe('ORD-4B6D6D-000001');
    expect(numbers[14]).toBe('ORD-4B6D6D-000015');
    expect(numbers[15]).toBe('ORD-LAST');
  });

  it('gives toHtml the same answer when called twice', () => {
    const builder = new DocumentBuilder(header, 10);
    builder.addRows(rows(15));
    expect(builder.toHtml()).toBe(builder.toHtml());
  });

  it('keeps 1,000 rows in one part when a part holds about 1,000', () => {
    const builder = new DocumentBuilder(header, 60, DocumentBuilder.partRows(1000, 1000));
    builder.addRows(rows(1000));
    expect(builder.takeReady()).toEqual([]);
    expect(builder.finish()).toHaveLength(1);
  });

  it('hands out full parts as rows arrive, and part 0 with the title and summary last', () => {
    const partRows = DocumentBuilder.partRows(2500, 1000);
    const builder = new DocumentBuilder(header, 60, partRows);
    const whole = new DocumentBuilder(header, 60);
    whole.addRows(rows(2500));
    const handedOut: number[][] = [];
    const parts: DocumentPart[] = [];
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
    const blocks = inOrder.map((html) => blocksOf(html).length);
    expect(blocks.reduce((a, b) => a + b, 0)).toBe(blocksOf(whole.toHtml()).length);
    expect(inOrder[0]).toContain('<h1>Orders report</h1>');
    expect(inOrder[0]).toContain('<dt>Orders</dt><dd>2,500</dd>');
    for (const part of inOrder.slice(1)) {
      expect(part).not.toContain('Orders report</h1>');
      expect(part).toMatch(/^<!DOCTYPE html>.*<\/html>$/s);
    }
    const numbers = [...inOrder.join('').matchAll(ORDER_NUMBER)].map((match) => match[1]);
    expect(numbers).toEqual([...whole.toHtml().matchAll(ORDER_NUMBER)].map((match) => match[1]));
    expect(numbers).toHaveLength(2500);
  });

  it('gives an empty report one part that says so', () => {
    const parts = new DocumentBuilder(header, 60, 1000).finish();
    expect(parts).toEqual([
      { index: 0, html: expect.stringContaining('No orders in this period') },
    ]);
  });

  it('takes no rows once finished', () => {
    const builder = new DocumentBuilder(header, 60, 1000);
    builder.finish();
    expect(() => builder.addRows(rows(1))).toThrow('already finished');
  });

  it('loads nothing from outside: no script, no external URL', () => {
    const html = printed(rows(3));

    expect(html).not.toMatch(/<script|<link|@import|url\(|https?:\/\//i);
  });
});

describe('Chinese, Japanese and Korean names', () => {
  let fonts: CjkFonts;
  beforeAll(async () => {
    fonts = await cjkFonts(); // the faces scripts/setup.sh installs
  });

  /** The @font-face families of a document, in order. */
  const subsets = (html: string) =>
    [...html.matchAll(/@font-face\{font-family:"([^"]+)";src:url\(data:font\/ttf;base64,/g)].map(
      (match) => match[1],
    );

  it('marks each name with its language where its script tells, and carries the subsets it prints from', () => {
    const builder = new DocumentBuilder(
      { ...header, clientName: 'Sakura Shop 株式会社' },
      60,
      Infinity,
      fonts,
    );
    builder.addRows(
      ['김민준', 'たなか ゆうき', '张伟', '山田 太郎', 'Jane Doe'].map((customerName) =>
        row({ customerName }),
      ),
    );
    const html = builder.toHtml();

    expect(html).toContain('<bdi lang="ko">김민준</bdi>');
    expect(html).toContain('<bdi lang="ja">たなか ゆうき</bdi>');
    expect(html).toContain('<bdi lang="zh">张伟</bdi>');
    expect(html).toContain('<bdi>山田 太郎</bdi>');
    expect(html).toContain('<bdi>Jane Doe</bdi>');
    expect(html).toContain('<dd><bdi>Sakura Shop 株式会社</bdi></dd>');
    expect(subsets(html)).toEqual(['Report CJK JP', 'Report CJK SC', 'Report CJK KR']);
    // setContent writes every document into the same one, which keeps each one's policy.
    expect(html).toMatch(/Content-Security-Policy" content="[^"]*font-src data:/);
    expect(STYLE).toMatch(
      /:lang\(ko\) \{ font-family: "Noto Sans", [^;]*"Noto Sans Thai", "Report CJK KR",/,
    );
    expect(STYLE).toMatch(/:lang\(zh\) \{ font-family: [^;]*"Noto Sans Thai", "Report CJK SC",/);
  });

  it('gives each part the subsets of its own names, part 0 those of the client too', () => {
    const builder = new DocumentBuilder({ ...header, clientName: '桜商店' }, 60, 100, fonts);
    builder.addRows(rows(100).map((r) => ({ ...r, customerName: '김민준' })));
    builder.addRows(rows(100).map((r) => ({ ...r, customerName: 'Jane Doe' })));
    const parts = builder.finish().sort((a, b) => a.index - b.index);

    expect(parts).toHaveLength(2);
    expect(subsets(parts[0].html)).toEqual(['Report CJK JP', 'Report CJK KR']);
    expect(subsets(parts[1].html)).toEqual([]);
  });

  it('carries no subset without the faces: the names print from Noto Sans CJK', () => {
    const html = printed([row({ customerName: '김민준' })]);

    expect(subsets(html)).toEqual([]);
    expect(html).toContain('<bdi lang="ko">김민준</bdi>');
  });
});
