import { decodePDFRawStream, PDFDict, PDFDocument, PDFName, PDFRawStream } from 'pdf-lib';
import { ClientsService } from '../../src/clients/clients.service';
import { NewOrder } from '../../src/orders/order.entity';
import { generateOrders } from '../../src/orders/order-seed';
import { OrderStatus } from '../../src/orders/order-status';
import { downloadReport, insertOrders, startApp, TestApp } from '../support/harness';
import { notdefGlyphs, pdffonts, pdfinfo, pdfLanguage, pdftotext } from '../support/pdf-tools';

/** A customer in each script the contract names. */
const NAMES = [
  '山田 太郎',
  '김민준',
  '王小明',
  'राहुल शर्मा',
  'สมชาย ใจดี',
  'Γιώργος Παπαδόπουλος',
  'Иван Петров',
  'محمد علي',
  'דוד כהן',
  'Zoë 😀🎉 Fan',
];
/** Identifiers as merchants number their orders. */
const NUMBERS = [
  'ORD-4B6D6D-000032',
  'FR-2023-01-0004711',
  'SHOP-DE-20230115-000123',
  '2023/0042-A',
  'A1',
  'ORD-1001',
  'INV-9999999999',
  'WEB-UK-2021-10-000001',
  'AMZ-113-7654321-1234567',
  'ORD_2021_10_31_235959',
];

const CJK = /[\p{Script=Han}\p{Script=Hangul}\p{Script=Hiragana}\p{Script=Katakana}]/u;

/**
 * The characters each font of the PDF draws, from its ToUnicode map (what pdftotext reads): the
 * font's name without its subset tag, or "Type 3" for a Type 3 font (Skia names none).
 */
async function textByFont(pdf: Buffer): Promise<Map<string, string>> {
  const document = await PDFDocument.load(pdf);
  const found = new Map<string, string>();
  const utf16 = (hex: string) => Buffer.from(hex, 'hex').swap16().toString('utf16le');
  for (const [, object] of document.context.enumerateIndirectObjects()) {
    if (!(object instanceof PDFDict)) continue;
    const subtype = object.get(PDFName.of('Subtype'))?.toString();
    if (subtype !== '/Type0' && subtype !== '/Type3') continue;
    const name =
      subtype === '/Type3'
        ? 'Type 3'
        : String(object.get(PDFName.of('BaseFont'))).replace(/^\/([A-Z]{6}\+)?/, '');
    const map = object.lookup(PDFName.of('ToUnicode'));
    let text = found.get(name) ?? '';
    if (map instanceof PDFRawStream) {
      const cmap = Buffer.from(decodePDFRawStream(map).decode()).toString('latin1');
      for (const [, body] of cmap.matchAll(/beginbfchar([\s\S]*?)endbfchar/g)) {
        for (const [, to] of body.matchAll(/<[0-9A-F]+>\s*<([0-9A-F]+)>/gi)) text += utf16(to);
      }
      for (const [, body] of cmap.matchAll(/beginbfrange([\s\S]*?)endbfrange/g)) {
        for (const [, lo, hi, to] of body.matchAll(
          /<([0-9A-F]+)>\s*<([0-9A-F]+)>\s*<([0-9A-F]+)>/gi,
        )) {
          const first = utf16(to).codePointAt(0)!;
          for (let i = 0; i <= parseInt(hi, 16) - parseInt(lo, 16); i += 1) {
            text += String.fromCodePoint(first + i);
          }
        }
      }
    }
    found.set(name, text);
  }
  return found;
}

function newOrder(
  number: string,
  customerName: string,
  day: number,
  extra: Partial<NewOrder> = {},
): NewOrder {
  return {
    number,
    placedAt: new Date(Date.UTC(2021, 9, day, 12)),
    status: OrderStatus.Paid,
    currency: 'EUR',
    customerName,
    customerEmail: 'customer@example.com',
    items: [{ sku: 'SKU-1', name: 'Mug', quantity: 2, unit_price: '12.50' }],
    itemCount: 2,
    total: '25.00',
    ...extra,
  };
}

describe('The PDF as its readers get it: pdftotext, pdffonts and its glyphs (real Chromium)', () => {
  let test: TestApp;

  beforeAll(async () => {
    test = await startApp();
  });
  afterAll(() => test.close());

  /** A client of that exact name, its orders, and the PDF of October 2021. */
  async function reportOf(clientName: string, orders: NewOrder[]): Promise<Buffer> {
    const client = await test.app.get(ClientsService).create(clientName);
    await insertOrders(test, client.id, orders);
    const { pdf } = await downloadReport(test, client.api_key, {
      start_date: '2021-10-01',
      end_date: '2021-11-01',
    });
    return pdf.bytes;
  }

  describe('a report of customers in ten scripts, for "Sakura Shop 株式会社"', () => {
    let pdf: Buffer;

    beforeAll(async () => {
      pdf = await reportOf('Sakura Shop 株式会社', [
        ...NAMES.map((name, i) => newOrder(NUMBERS[i], name, i + 1)),
        newOrder('JPY-1', 'Yuki Tanaka', 20, { currency: 'JPY', total: '2500.00' }),
        // Simplified ideographs: Chinese forms.
        newOrder('CNY-1', '张伟', 21),
      ]);
    });

    it('draws no .notdef glyph: every character has a real one', async () => {
      const { glyphs, notdef } = await notdefGlyphs(pdf);

      expect(glyphs).toBeGreaterThan(500);
      expect(notdef).toBe(0);
    });

    it('gives every name and the client name back from pdftotext exactly', async () => {
      const text = await pdftotext(pdf);

      for (const name of [...NAMES, '张伟', 'Sakura Shop 株式会社']) expect(text).toContain(name);
    });

    it('gives every order number back whole', async () => {
      const text = await pdftotext(pdf);
      const words = new Set(text.split(/\s+/));

      for (const number of NUMBERS) expect(words.has(number)).toBe(true);
    });

    it('prints a yen total in yen, with no decimals', async () => {
      const text = await pdftotext(pdf);

      expect(text).toContain('2,500 JPY');
      expect(text).not.toContain('2,500.00 JPY');
    });

    it('embeds every font, the Type 3 ones (emoji) and the page numbers’ included', async () => {
      const fonts = await pdffonts(pdf);

      expect(fonts.filter((font) => !font.embedded)).toEqual([]);
      expect(fonts.some((font) => font.type === 'Type 3')).toBe(true);
      expect(fonts.map((font) => font.name)).toContain('PAGENO+NotoSans-Regular');
    });

    it('prints CJK from TrueType subsets, each name in its language’s face: no Type 3 font', async () => {
      const fonts = await pdffonts(pdf);
      const byFont = await textByFont(pdf);
      const cjkFonts = fonts.filter((font) =>
        /IPAGothic|WenQuanYiMicroHei|NanumGothic/.test(font.name),
      );

      expect(cjkFonts.length).toBeGreaterThanOrEqual(3);
      for (const font of cjkFonts) {
        expect(font.type).toBe('CID TrueType');
        expect(font.name).toMatch(/^[A-Z]{6}\+/); // a subset
      }
      // Japanese forms for ideographs that do not tell their language, Korean for Hangul,
      // Chinese for a name with simplified ideographs.
      expect([...byFont.get('IPAGothic')!].sort()).toEqual([...'株式会社山田太郎王小明'].sort());
      expect([...byFont.get('NanumGothic')!].sort()).toEqual([...'김민준'].sort());
      expect([...byFont.get('WenQuanYiMicroHei')!].sort()).toEqual([...'张伟'].sort());
      // The Type 3 fonts draw the emoji, and no CJK character.
      expect(byFont.get('Type 3')).toContain('😀');
      expect(byFont.get('Type 3')).not.toMatch(CJK);
    });

    it('gives title, author, subject (client and period with its zone) and language', async () => {
      const info = await pdfinfo(pdf);

      expect(info.Title).toBe(
        'Orders report – Sakura Shop 株式会社, 1 Oct 2021 – 31 Oct 2021 (UTC)',
      );
      expect(info.Author).toBe('orders-reports');
      expect(info.Subject).toBe('Sakura Shop 株式会社, 1 Oct 2021 – 31 Oct 2021 (UTC)');
      expect(await pdfLanguage(pdf)).toBe('en');
    });
  });

  it('finds the .notdef Chromium draws for a character no font has (the check above works)', async () => {
    // U+E000 is in the Private Use Area: no Noto font has a glyph for it.
    const pdf = await reportOf('Private Shop', [newOrder('PUA-1', 'Ada \uE000\uE001 Lovelace', 3)]);
    const { notdef } = await notdefGlyphs(pdf);

    expect(notdef).toBe(2);
  });

  describe('a report of 1,000 seeded orders', () => {
    let pdf: Buffer;
    let numbers: string[];
    let pages: number;

    beforeAll(async () => {
      const orders = generateOrders(1000, '2021-10-01', '2021-11-01');
      numbers = orders.map((order) => order.number);
      pdf = await reportOf('Seeded Shop', orders);
      pages = Number((await pdfinfo(pdf)).Pages);
    });

    it('fits in 25 pages or fewer, at least 40 orders on every page but the last', async () => {
      expect(pages).toBeLessThanOrEqual(25);
      for (let page = 1; page < pages; page += 1) {
        const onPage = (await pdftotext(pdf, page)).match(/ORD-[0-9A-F]{6}-\d{6}/g) ?? [];
        expect(onPage.length).toBeGreaterThanOrEqual(40);
      }
    });

    it('gives every order number back whole from pdftotext', async () => {
      const found = (await pdftotext(pdf)).match(/\bORD-[0-9A-F]{6}-\d{6}\b/g) ?? [];

      expect(new Set(found)).toEqual(new Set(numbers));
      expect(found).toHaveLength(1000);
    });

    it('heads every page with the column headings', async () => {
      for (const page of [1, 2, pages]) {
        expect(await pdftotext(pdf, page)).toContain('Order number');
      }
    });

    it('says "Page X of Y" right on the first, a middle and the last page', async () => {
      for (const page of [1, Math.ceil(pages / 2), pages]) {
        const stamps = (await pdftotext(pdf, page)).match(/Page \d+ of \d+/g);
        expect(stamps).toEqual([`Page ${page} of ${pages}`]);
      }
    });

    it('embeds every font', async () => {
      const fonts = await pdffonts(pdf);

      expect(fonts.length).toBeGreaterThan(0);
      expect(fonts.filter((font) => !font.embedded)).toEqual([]);
    });
  });
});
