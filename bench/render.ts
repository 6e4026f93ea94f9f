/**
 * PDF render benchmark: our PdfRenderer against bare Puppeteer on the same HTML, in the same run,
 * for Latin-only reports, reports whose names are in ten scripts and reports of Chinese, Japanese
 * and Korean names only. Measures, never passes or fails.
 * Run: npx ts-node --transpile-only bench/render.ts [50,1000,10000] [latin,mixed,cjk]
 */
import 'reflect-metadata';
import { readdirSync, readFileSync } from 'node:fs';
import { PDFDocument } from 'pdf-lib';
import puppeteer, { Browser, Page } from 'puppeteer';
import { Environment } from '../src/config/environment';
import { CHROMIUM_ARGS } from '../src/pdf/chromium-setup';
import { PDF_OPTIONS, PdfRenderer } from '../src/pdf/pdf-renderer.service';
import { CjkFonts, cjkFonts } from '../src/pdf/cjk-fonts';
import { memorySink } from '../src/pdf/pdf-join';
import { DocumentBuilder, OrderRow } from '../src/pdf/template';

/**
 * Latin-only names; names in Latin, Greek, Cyrillic, CJK, Arabic, Hebrew, Devanagari, Thai and
 * emoji; or Chinese, Japanese and Korean names only (a shop in Tokyo, Seoul or Shanghai).
 */
export type Scripts = 'latin' | 'mixed' | 'cjk';

export interface RenderBenchResult {
  orders: number;
  scripts: Scripts;
  oursMs: number;
  bareMs: number;
  ratio: number;
  /** Bare Puppeteer printing the same parts, not joined: isolates the pool's own overhead. */
  barePartsMs: number;
  partsRatio: number;
  pdfBytes: number;
  /** Bare Puppeteer's PDF of the same HTML, as one document. */
  barePdfBytes: number;
  pages: number;
  pagesPer1000: number;
  chromiumRssMb: number;
}

const FIRST_NAMES = ['Anna', 'Jean-Luc', 'Søren', 'María José', 'Oluwaseun', 'Yuki', 'Zoë', 'محمد'];
const LAST_NAMES = [
  'Smith',
  'Müller',
  'García Fernández',
  "O'Connor",
  'Nguyễn',
  'Kowalczyk',
  'Ali',
];
/** One name in each script the issue lists (15): every other row of a mixed report. */
const WORLD_NAMES = [
  '山田 太郎',
  '김민준',
  '王小明',
  'राहुल शर्मा',
  'สมชาย ใจดี',
  'Γιώργος Παπαδόπουλος',
  'Иван Петров',
  'محمد علي',
  'דוד כהן',
  'Lucía 😀 Fernández',
];
/**
 * Family and given names, Japanese (kanji, and kana), Korean and Chinese: every row of a CJK
 * report takes one of each from one language, about 250 characters in all.
 */
const CJK_NAMES: Array<[string[], string[]]> = [
  [
    [
      '佐藤',
      '鈴木',
      '高橋',
      '田中',
      '伊藤',
      '渡辺',
      '山本',
      '中村',
      '小林',
      '加藤',
      '吉田',
      '山田',
    ],
    [
      '太郎',
      '花子',
      '一郎',
      '美咲',
      '大翔',
      '陽菜',
      '蓮',
      '結衣',
      'ゆうき',
      'さくら',
      'ケンジ',
      '翔太',
    ],
  ],
  [
    ['김', '이', '박', '최', '정', '강', '조', '윤', '장', '임', '한', '오'],
    [
      '민준',
      '서연',
      '지훈',
      '수아',
      '우진',
      '하은',
      '도윤',
      '지아',
      '예준',
      '서윤',
      '시우',
      '하린',
    ],
  ],
  [
    ['王', '李', '张', '刘', '陈', '杨', '黄', '赵', '吴', '周', '徐', '孙'],
    ['伟', '芳', '娜', '秀英', '敏', '静', '丽', '强', '磊', '军', '洋', '晓明'],
  ],
];
const STATUSES = ['DELIVERED', 'SHIPPED', 'PAID', 'CANCELED', 'REFUNDED'];
const CURRENCIES = ['EUR', 'EUR', 'EUR', 'USD', 'GBP'];

function cjkName(next: () => number): string {
  const [families, givens] = CJK_NAMES[Math.floor(next() * CJK_NAMES.length)];
  const family = families[Math.floor(next() * families.length)];
  const given = givens[Math.floor(next() * givens.length)];
  // Japanese names here with a space between, Chinese and Korean ones without.
  return families === CJK_NAMES[0][0] ? `${family} ${given}` : family + given;
}

/**
 * Deterministic synthetic orders across October 2021, in placed_at order, numbered as the seed
 * numbers them (ORD-4B6D6D-000001).
 */
export function syntheticRows(count: number, seed = 42, scripts: Scripts = 'latin'): OrderRow[] {
  let state = seed;
  const next = (): number => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
  const start = Date.UTC(2021, 9, 1);
  const span = 31 * 86_400_000;
  const times = Array.from({ length: count }, () => start + Math.floor(next() * span)).sort(
    (a, b) => a - b,
  );
  return times.map((time, i) => {
    const cents = 500 + Math.floor(next() * 150_000);
    return {
      number: `ORD-4B6D6D-${String(i + 1).padStart(6, '0')}`,
      placedAt: new Date(time),
      customerName:
        scripts === 'cjk'
          ? cjkName(next)
          : scripts === 'mixed' && i % 2
            ? WORLD_NAMES[Math.floor(next() * WORLD_NAMES.length)]
            : `${FIRST_NAMES[Math.floor(next() * FIRST_NAMES.length)]} ${
                LAST_NAMES[Math.floor(next() * LAST_NAMES.length)]
              }`,
      status: STATUSES[Math.floor(next() * STATUSES.length)],
      itemCount: 1 + Math.floor(next() * 12),
      total: `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, '0')}`,
      currency: CURRENCIES[Math.floor(next() * CURRENCIES.length)],
    };
  });
}

/** A report of synthetic orders; `rowsPerPart` cuts it into parts (take them with finish()). */
export function buildReport(
  orders: number,
  rowsPerPage: number,
  rowsPerPart = Infinity,
  scripts: Scripts = 'latin',
  fonts = CjkFonts.none,
): DocumentBuilder {
  const builder = new DocumentBuilder(
    {
      clientName:
        scripts === 'latin'
          ? 'Acme Retail Europe GmbH'
          : scripts === 'cjk'
            ? '桜商店 株式会社'
            : 'Sakura Shop 株式会社',
      startDate: '2021-10-01',
      endDate: '2021-11-01',
      generatedAt: new Date(),
      timeZone: 'UTC',
    },
    rowsPerPage,
    DocumentBuilder.partRows(orders, rowsPerPart),
    fonts,
  );
  const rows = syntheticRows(orders, 42, scripts);
  for (let i = 0; i < rows.length; i += 1000) builder.addRows(rows.slice(i, i + 1000));
  return builder;
}

/** What a bare Puppeteer user would do: one document, Chromium's own "Page X of Y" footer. */
const BARE_PDF_OPTIONS = {
  ...PDF_OPTIONS,
  displayHeaderFooter: true,
  headerTemplate: '<div></div>',
  footerTemplate:
    '<div style="width:100%;font-size:8px;text-align:center">' +
    'Page <span class="pageNumber"></span> of <span class="totalPages"></span></div>',
};

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Resident memory of a process, and of all its descendants apart (Chromium and its helpers). */
export function treeRssMb(rootPid: number | undefined): {
  processMb: number;
  descendantsMb: number;
} {
  if (!rootPid) return { processMb: 0, descendantsMb: 0 };
  const children = new Map<number, number[]>();
  const rss = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const status = readFileSync(`/proc/${entry}/status`, 'utf8');
      const ppid = Number(/^PPid:\s+(\d+)/m.exec(status)?.[1]);
      const kb = Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0);
      rss.set(Number(entry), kb);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // The process ended while we looked.
    }
  }
  let descendants = 0;
  const stack = [...(children.get(rootPid) ?? [])];
  while (stack.length) {
    const pid = stack.pop()!;
    descendants += rss.get(pid) ?? 0;
    stack.push(...(children.get(pid) ?? []));
  }
  const mb = (kb: number) => Math.round(kb / 1024);
  return { processMb: mb(rss.get(rootPid) ?? 0), descendantsMb: mb(descendants) };
}

async function timed<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const started = process.hrtime.bigint();
  const result = await fn();
  return [Number(process.hrtime.bigint() - started) / 1e6, result];
}

const DEFAULTS = new Environment();

export async function benchRender(
  sizes = [50, 1000, 10000],
  options: {
    rowsPerPage?: number;
    rowsPerPart?: number;
    executablePath?: string;
    scripts?: Scripts[];
  } = {},
): Promise<RenderBenchResult[]> {
  const executablePath =
    options.executablePath ?? process.env.PUPPETEER_EXECUTABLE_PATH ?? '/usr/bin/chromium';
  const rowsPerPage =
    options.rowsPerPage ??
    Number(process.env.RENDER_ROWS_PER_PAGE ?? DEFAULTS.RENDER_ROWS_PER_PAGE);
  const rowsPerPart =
    options.rowsPerPart ??
    Number(process.env.RENDER_ROWS_PER_PART ?? DEFAULTS.RENDER_ROWS_PER_PART);
  const ours = new PdfRenderer({
    executablePath,
    // As a worker runs: an idle pool prints a report's parts on all its pages at once.
    concurrency: Number(process.env.RENDER_CONCURRENCY ?? 2),
    timeoutMs: 120_000,
    attempts: 1,
    rowsPerPage,
    rowsPerPart,
    // Measured on its own, over thousands of renders: bench/recycle.ts.
    recycleAfter: 0,
    recycleRssMb: 0,
  });
  let bare: Browser | undefined;
  const results: RenderBenchResult[] = [];
  try {
    bare = await puppeteer.launch({
      executablePath,
      headless: true,
      pipe: true,
      args: CHROMIUM_ARGS,
    });
    const barePage = await bare.newPage();
    await barePage.setJavaScriptEnabled(false);
    await ours.ping();

    // As the worker builds them: with the CJK subsets each document carries.
    const fonts = await cjkFonts();
    const variants = (options.scripts ?? ['latin', 'mixed', 'cjk']).flatMap((scripts) =>
      sizes.map((orders) => ({ orders, scripts })),
    );
    for (const { orders, scripts } of variants) {
      const html = buildReport(orders, rowsPerPage, Infinity, scripts, fonts).toHtml();
      const parts = buildReport(orders, rowsPerPage, rowsPerPart, scripts, fonts).finish();
      const runs = orders >= 10000 ? 3 : 5;
      const bareRender = async () => {
        await barePage.setContent(html, { waitUntil: 'load', timeout: 0 });
        return barePage.pdf({ ...BARE_PDF_OPTIONS, timeout: 0 });
      };
      // Bare Puppeteer on our parts, without joining or numbering: what the pool itself costs.
      const barePartsRender = async () => {
        for (const part of parts) {
          await barePage.setContent(part.html, { waitUntil: 'load', timeout: 0 });
          await barePage.pdf({ ...PDF_OPTIONS, timeout: 0 });
        }
      };
      // Warm-up, then alternate so that drift in machine load hits all alike.
      const print = async () => {
        const output = memorySink();
        await ours.render(parts, output.sink);
        return output.pdf();
      };
      await print();
      await bareRender();
      const oursMs: number[] = [];
      const bareMs: number[] = [];
      const barePartsMs: number[] = [];
      let pdfBytes = 0;
      let barePdfBytes = 0;
      let pdf: Buffer = Buffer.alloc(0);
      let chromiumRssMb = 0;
      for (let i = 0; i < runs; i++) {
        const [ms, out] = await timed(print);
        oursMs.push(ms);
        pdf = out;
        pdfBytes = out.length;
        const tree = treeRssMb(ours.browserPid);
        chromiumRssMb = Math.max(chromiumRssMb, tree.processMb + tree.descendantsMb);
        const [bareTook, barePdf] = await timed(bareRender);
        bareMs.push(bareTook);
        barePdfBytes = barePdf.length;
        barePartsMs.push((await timed(barePartsRender))[0]);
      }
      const pages = (await PDFDocument.load(pdf)).getPageCount();
      const row: RenderBenchResult = {
        orders,
        scripts,
        oursMs: Math.round(median(oursMs)),
        bareMs: Math.round(median(bareMs)),
        ratio: Math.round((median(oursMs) / median(bareMs)) * 100) / 100,
        barePartsMs: Math.round(median(barePartsMs)),
        partsRatio: Math.round((median(oursMs) / median(barePartsMs)) * 100) / 100,
        pdfBytes,
        barePdfBytes,
        pages,
        pagesPer1000: Math.round((pages * 1000) / orders),
        chromiumRssMb,
      };
      results.push(row);
    }
  } finally {
    await ours.onApplicationShutdown();
    await bare?.close();
  }
  return results;
}

/**
 * Bare Puppeteer's report rate: `count` copies of an `orders`-order report printed on `pages` warm
 * pages at once, as many as a worker has. What end-to-end throughput is compared with; `scripts`
 * as the names of the reports it is compared with (the seed's are mostly Latin, a tenth of them
 * international, CJK included).
 */
export async function bareRenderRate(
  orders = 50,
  pages = Number(process.env.RENDER_CONCURRENCY ?? 2),
  count = 100,
  scripts: Scripts = 'latin',
): Promise<{ orders: number; pages: number; reportsPerMinute: number }> {
  const browser = await puppeteer.launch({
    executablePath: process.env.PUPPETEER_EXECUTABLE_PATH ?? '/usr/bin/chromium',
    headless: true,
    pipe: true,
    args: CHROMIUM_ARGS,
  });
  try {
    const html = buildReport(
      orders,
      DEFAULTS.RENDER_ROWS_PER_PAGE,
      Infinity,
      scripts,
      await cjkFonts(),
    ).toHtml();
    const tabs = await Promise.all(Array.from({ length: pages }, () => browser.newPage()));
    const print = async (page: Page) => {
      await page.setContent(html, { waitUntil: 'load' });
      await page.pdf(BARE_PDF_OPTIONS);
    };
    await Promise.all(tabs.map(print)); // warm-up
    let left = count;
    const [ms] = await timed(() =>
      Promise.all(
        tabs.map(async (page) => {
          while (left-- > 0) await print(page);
        }),
      ),
    );
    return { orders, pages, reportsPerMinute: Math.round((count * 60_000) / ms) };
  } finally {
    await browser.close();
  }
}

/**
 * Bare Puppeteer's report rate on given HTML: `count` copies of `document` (its parts, each printed
 * in turn: the HTML the worker builds for a report, bench/documents.ts) printed on `pages` warm
 * pages at once, as many as a worker has. What the end-to-end step compares the service with.
 */
export async function bareDocumentRate(
  document: string[],
  pages = Number(process.env.RENDER_CONCURRENCY ?? 2),
  count = 100,
): Promise<{ pages: number; reportsPerMinute: number }> {
  const browser = await puppeteer.launch({
    executablePath: process.env.PUPPETEER_EXECUTABLE_PATH ?? '/usr/bin/chromium',
    headless: true,
    pipe: true,
    args: CHROMIUM_ARGS,
  });
  try {
    const tabs = await Promise.all(Array.from({ length: pages }, () => browser.newPage()));
    const print = async (page: Page) => {
      for (const html of document) {
        await page.setContent(html, { waitUntil: 'load' });
        await page.pdf(BARE_PDF_OPTIONS);
      }
    };
    await Promise.all(tabs.map(print)); // warm-up
    let left = count;
    const [ms] = await timed(() =>
      Promise.all(
        tabs.map(async (page) => {
          while (left-- > 0) await print(page);
        }),
      ),
    );
    return { pages, reportsPerMinute: Math.round((count * 60_000) / ms) };
  } finally {
    await browser.close();
  }
}

if (require.main === module) {
  const sizes = process.argv[2]?.split(',').map(Number);
  const scripts = process.argv[3]?.split(',') as Scripts[] | undefined;
  benchRender(sizes, { scripts })
    .then((results) => {
      console.log(
        `PDF render, median of 5 runs (3 for >= 10,000 orders), rowsPerPage=` +
          `${process.env.RENDER_ROWS_PER_PAGE ?? DEFAULTS.RENDER_ROWS_PER_PAGE}, ` +
          `rowsPerPart=${process.env.RENDER_ROWS_PER_PART ?? DEFAULTS.RENDER_ROWS_PER_PART}`,
      );
      console.table(
        results.map((r) => ({
          orders: r.orders,
          scripts: r.scripts,
          'ours ms': r.oursMs,
          'bare ms (one document)': r.bareMs,
          ratio: r.ratio,
          'bare ms (same parts)': r.barePartsMs,
          'ratio (parts)': r.partsRatio,
          'PDF KB': Math.round(r.pdfBytes / 1024),
          'bare PDF KB': Math.round(r.barePdfBytes / 1024),
          pages: r.pages,
          'pages / 1,000': r.pagesPer1000,
          'Chromium RSS MB': r.chromiumRssMb,
        })),
      );
      console.log(
        `Peak RSS of this Node process: ${Math.round(process.resourceUsage().maxRSS / 1024)} MB`,
      );
    })
    .catch((error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    });
}
