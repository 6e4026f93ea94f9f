import { PDFDocument, rgb, StandardFonts } from 'pdf-lib';

const FONT_SIZE = 7.5;
/** Centred in the bottom margin the renderer leaves (16 mm): about 7 mm from the edge. */
const BASELINE_PT = 20;

/**
 * Joins the PDFs of a report's parts into one and writes "Page X of Y" on every page, as real text.
 * The page count is known only once every part is printed, so Chromium's own footer cannot say it.
 */
export async function joinWithPageNumbers(parts: Uint8Array[]): Promise<Buffer> {
  const joined = await PDFDocument.create();
  for (const part of parts) {
    const document = await PDFDocument.load(part);
    for (const page of await joined.copyPages(document, document.getPageIndices())) {
      joined.addPage(page);
    }
  }
  const font = await joined.embedFont(StandardFonts.Helvetica);
  const pages = joined.getPages();
  pages.forEach((page, index) => {
    const text = `Page ${index + 1} of ${pages.length}`;
    page.drawText(text, {
      x: (page.getWidth() - font.widthOfTextAtSize(text, FONT_SIZE)) / 2,
      y: BASELINE_PT,
      size: FONT_SIZE,
      font,
      color: rgb(0.35, 0.35, 0.35),
    });
  });
  return Buffer.from(await joined.save({ useObjectStreams: true }));
}
