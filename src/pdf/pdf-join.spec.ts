import { createHash } from 'node:crypto';
import { PDFArray, PDFDict, PDFDocument, PDFName, PDFRawStream, StandardFonts } from 'pdf-lib';
import { memorySink, PdfJoin } from './pdf-join';

// pdf-parse's index.js runs a debug self-test when required directly.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const pdfParse = require('pdf-parse/lib/pdf-parse.js') as (
  data: Buffer,
) => Promise<{ text: string; numpages: number }>;

/** A part of `pages` A4 pages, each saying which part and page it is. */
async function part(index: number, pages: number): Promise<Uint8Array> {
  const document = await PDFDocument.create();
  document.setTitle('Orders report – Acme');
  const font = await document.embedFont(StandardFonts.Courier);
  for (let page = 0; page < pages; page += 1) {
    const sheet = document.addPage([595.92, 841.92]);
    sheet.drawText(`part ${index} page ${page}`, { x: 50, y: 780, size: 12, font });
    for (let line = 0; line < 40; line += 1) {
      sheet.drawText(`ORD-${index}-${page}-${line} ${(line * 7919) % 10007}`, {
        x: 50,
        y: 760 - line * 16,
        size: 9,
        font,
      });
    }
  }
  return document.save();
}

describe('PdfJoin', () => {
  it('joins parts added in any order by their index, numbering every page "Page X of Y"', async () => {
    const output = memorySink();
    const join = new PdfJoin(output.sink);
    // Part 0 (the summary) is printed last, as the renderer hands it out.
    await join.add(2, await part(2, 1));
    await join.add(1, await part(1, 3));
    await join.add(0, await part(0, 2));
    const joined = await join.finish();
    const pdf = output.pdf();

    const { text, numpages } = await pdfParse(pdf);
    expect(numpages).toBe(6);
    const order = [...text.matchAll(/part (\d) page (\d)/g)].map((match) => match[0]);
    expect(order).toEqual([
      'part 0 page 0',
      'part 0 page 1',
      'part 1 page 0',
      'part 1 page 1',
      'part 1 page 2',
      'part 2 page 0',
    ]);
    for (let page = 1; page <= 6; page += 1) expect(text).toContain(`Page ${page} of 6`);

    const reloaded = await PDFDocument.load(pdf, { updateMetadata: false });
    expect(reloaded.getPageCount()).toBe(6);
    expect(reloaded.getTitle()).toBe('Orders report – Acme');
    expect(reloaded.getProducer()).toBe('orders-reports');
    expect(joined).toEqual({
      bytes: pdf.length,
      pages: 6,
      sha256: createHash('sha256').update(pdf).digest('base64url'),
    });
  });

  it("keeps a page's content given as a reference to an array of streams", async () => {
    const document = await PDFDocument.load(await part(0, 1));
    const page = document.getPage(0).node;
    const contents = page.lookup(PDFName.of('Contents'), PDFArray);
    page.set(PDFName.of('Contents'), document.context.register(contents));
    const output = memorySink();
    const join = new PdfJoin(output.sink);
    await join.add(0, await document.save());
    await join.finish();
    const { text } = await pdfParse(output.pdf());
    expect(text).toContain('part 0 page 0');
    expect(text).toContain('ORD-0-0-39');
    expect(text).toContain('Page 1 of 1');
  });

  it('writes as it goes, in chunks of the size asked for, whatever the number of parts', async () => {
    const chunks: number[] = [];
    const join = new PdfJoin(async (chunk) => {
      chunks.push(chunk.length);
    }, 1024);
    const sent = () => chunks.reduce((sum, size) => sum + size, 0);
    const sentAfterPart: number[] = [];
    for (let index = 0; index < 20; index += 1) {
      await join.add(index, await part(index, 2));
      sentAfterPart.push(sent());
    }
    const { bytes, pages } = await join.finish();
    expect(pages).toBe(40);
    // Every part went out as it was added (less than a chunk held back), not at the end.
    const perPart = sentAfterPart[19] / 20;
    sentAfterPart.forEach((sentSoFar, index) =>
      expect(sentSoFar).toBeGreaterThan((index + 1) * perPart - 1024 - perPart / 2),
    );
    expect(sentAfterPart[19]).toBeGreaterThan(bytes / 2);
    // At least the size asked for, and over it by less than one object (a page's content here).
    expect(chunks.slice(0, -1).every((size) => size >= 1024 && size < 1024 + 8 * 1024)).toBe(true);
    expect(chunks.reduce((sum, size) => sum + size, 0)).toBe(bytes);
  });

  it('refuses to finish a PDF a chunk of which was not stored', async () => {
    let down = false;
    const join = new PdfJoin(async () => {
      if (down) throw new Error('Postgres went away');
    }, 1024);
    await join.add(0, await part(0, 2));
    down = true;
    await expect(join.add(1, await part(1, 2))).rejects.toThrow('Postgres went away');
    await expect(join.finish()).rejects.toThrow('Postgres went away');
  });

  it('writes nothing more once stopped', async () => {
    const chunks: Buffer[] = [];
    const join = new PdfJoin(async (chunk) => {
      chunks.push(chunk);
    }, 1024);
    await join.add(0, await part(0, 1));
    const before = chunks.length;
    await join.stop();
    await join.add(1, await part(1, 3));
    expect(chunks.length).toBe(before);
  });
});

describe('PdfJoin, a complete document', () => {
  /** A part as Chromium prints one: its title, and a Type 3 font as Skia writes them. */
  async function chromiumLikePart(title: string): Promise<Uint8Array> {
    const document = await PDFDocument.create();
    document.setTitle(title);
    const page = document.addPage([595.92, 841.92]);
    const type3 = document.context.register(
      document.context.obj({
        Type: 'Font',
        Subtype: 'Type3',
        FontMatrix: [0.001, 0, 0, -0.001, 0, 0],
        FontBBox: [0, 120, 1000, -880],
        FirstChar: 0,
        LastChar: 1,
        Widths: [1000, 1000],
        Encoding: { Type: 'Encoding', Differences: [0, 'g0', 'g69B9'] },
        CharProcs: {},
      }),
    );
    page.node.setFontDictionary(PDFName.of('F5'), type3);
    return document.save();
  }

  async function joined(parts: Uint8Array[]): Promise<Buffer> {
    const output = memorySink();
    const join = new PdfJoin(output.sink);
    for (const [index, part] of parts.entries()) await join.add(index, part);
    await join.finish();
    return output.pdf();
  }

  it('gives title, author, subject and language, the subject from the title', async () => {
    const title = 'Orders report – Sakura Shop 株式会社, 1 Oct 2021 – 31 Oct 2021 (Asia/Tokyo)';
    const pdf = await PDFDocument.load(await joined([await chromiumLikePart(title)]), {
      updateMetadata: false,
    });

    expect(pdf.getTitle()).toBe(title);
    expect(pdf.getSubject()).toBe('Sakura Shop 株式会社, 1 Oct 2021 – 31 Oct 2021 (Asia/Tokyo)');
    expect(pdf.getAuthor()).toBe('orders-reports');
    expect(pdf.getProducer()).toBe('orders-reports');
    expect(pdf.catalog.lookup(PDFName.of('Lang'))?.toString()).toBe('(en)');
  });

  it('stamps the page numbers in an embedded subset of Noto Sans, not Helvetica', async () => {
    const pdf = await PDFDocument.load(await joined([await part(0, 2)]));
    const fonts = pdf.getPage(1).node.Resources()!.lookup(PDFName.Font, PDFDict);
    const stamp = fonts.lookup(PDFName.of('PageNumberFont'), PDFDict);
    const descendant = stamp.lookup(PDFName.of('DescendantFonts'), PDFArray).lookup(0, PDFDict);
    const descriptor = descendant.lookup(PDFName.of('FontDescriptor'), PDFDict);

    expect(stamp.get(PDFName.of('BaseFont'))?.toString()).toBe('/PAGENO+NotoSans-Regular');
    expect(descriptor.get(PDFName.of('FontFile2'))).toBeDefined();
    // A subset: the digits and "Page of", not the 3,000 glyphs of the font.
    const file = descriptor.lookup(PDFName.of('FontFile2'));
    expect(file).toBeInstanceOf(PDFRawStream);
    expect((file as PDFRawStream).getContents().length).toBeLessThan(20_000);
  });

  it('gives the first code of a Type 3 font half an em, as poppler reads text sizes', async () => {
    const pdf = await PDFDocument.load(await joined([await chromiumLikePart('Orders report – x')]));
    const fonts = pdf.getPage(0).node.Resources()!.lookup(PDFName.Font, PDFDict);
    const widths = fonts.lookup(PDFName.of('F5'), PDFDict).lookup(PDFName.of('Widths'), PDFArray);

    expect(widths.asArray().map(String)).toEqual(['500', '1000']);
  });
});
