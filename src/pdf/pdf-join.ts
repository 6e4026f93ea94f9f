import { createHash } from 'node:crypto';
import {
  PDFArray,
  PDFContext,
  PDFDict,
  PDFDocument,
  PDFHexString,
  PDFName,
  PDFNumber,
  PDFObject,
  PDFObjectCopier,
  PDFRef,
  PDFString,
} from 'pdf-lib';
import { PageNumberFont, pageNumberFont } from './page-number-font';
import { DOCUMENT_AUTHOR, DOCUMENT_LANGUAGE, subjectOf } from './document-info';

/** Where the joined PDF goes, a chunk at a time, in order. */
export type PdfSink = (chunk: Buffer) => Promise<void>;

/** The joined PDF as written: its size, its page count and its SHA-256 (base64url). */
export interface JoinedPdf {
  bytes: number;
  pages: number;
  sha256: string;
}

const FONT_SIZE = 7.5;
/** Centred in the bottom margin the renderer leaves (16 mm): about 7 mm from the edge. */
const BASELINE_PT = 20;
const NUMBER_FONT = PDFName.of('PageNumberFont');
/** The sink gets chunks of about this size (the last one smaller). */
export const PDF_CHUNK_BYTES = 1024 * 1024;

/**
 * poppler (pdftotext, Evince, Okular) guesses a Type 3 font's size from the width of its first
 * glyph, taken for a letter half an em wide. Skia's Type 3 fonts (the glyphs of CFF fonts such as
 * Noto Sans CJK, and of colour emoji) start with .notdef at code 0, a whole em wide: poppler took
 * their text for twice its size and set every CJK or emoji character apart from the words around
 * it, out of order. Chromium places every glyph itself (Td), so code 0's width changes nothing on
 * the page; half an em makes poppler read the size the text has.
 */
function readableType3(font: PDFDict): void {
  if (font.get(PDFName.of('Subtype')) !== PDFName.of('Type3')) return;
  const widths = font.lookup(PDFName.of('Widths'));
  const firstChar = font.lookup(PDFName.of('FirstChar'));
  const matrix = font.lookup(PDFName.of('FontMatrix'));
  if (!(widths instanceof PDFArray) || !(matrix instanceof PDFArray)) return;
  if (!(firstChar instanceof PDFNumber) || firstChar.asNumber() !== 0) return;
  const scale = matrix.lookup(0);
  if (!(scale instanceof PDFNumber) || scale.asNumber() === 0) return;
  widths.set(0, PDFNumber.of(0.5 / Math.abs(scale.asNumber())));
}

interface JoinedPage {
  page: PDFRef;
  /** The content stream that will say "Page X of Y", written once Y is known. */
  number: PDFRef;
  width: number;
}

/**
 * Joins a report's part PDFs into one and writes "Page X of Y" on every page, as real text, while
 * the parts are still printing: each part is written out as it comes, in any order, and let go.
 * Memory holds one part and a few numbers per page, whatever the report's length; the page tree
 * (the parts' order), the page numbers and the metadata are written last, when every part is in.
 *
 * The numbers cannot come from Chromium's own footer: no part knows the report's page count.
 */
export class PdfJoin {
  private readonly context = PDFContext.create();
  private readonly fontRef: PDFRef;
  private readonly pagesRef: PDFRef;
  /** Streams that save and restore the graphics state around each page's own content. */
  private readonly saveRef: PDFRef;
  private readonly restoreRef: PDFRef;
  /** Each part's pages, by part index. */
  private readonly parts: JoinedPage[][] = [];
  /** The byte offset of every object written, by object number (the cross-reference table). */
  private readonly offsets: number[] = [];
  private readonly hash = createHash('sha256');
  /** The parts' title (they all have the report's) and creation date. */
  private title?: string;
  private created?: PDFObject;
  private buffered: Buffer[] = [];
  private bufferedBytes = 0;
  private written = 0;
  private stopped = false;
  /** A part or a chunk that failed: the PDF is incomplete and finish() refuses to end it. */
  private failure?: unknown;
  /** Parts are added one at a time, in the order add() was called. */
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly sink: PdfSink,
    private readonly chunkBytes = PDF_CHUNK_BYTES,
  ) {
    this.fontRef = this.context.nextRef();
    this.pagesRef = this.context.nextRef();
    this.saveRef = this.context.register(this.context.stream('q\n'));
    this.restoreRef = this.context.register(this.context.stream('\nQ\n'));
    // The header, and a comment of high bytes that tells transfer tools the file is binary.
    this.append(Buffer.from('%PDF-1.7\n%\xe2\xe3\xcf\xd3\n\n', 'latin1'));
  }

  /** Adds part `index` (its pages go after those of the parts with lower indexes). */
  add(index: number, pdf: Uint8Array): Promise<void> {
    const added = this.queue.then(() => this.addNow(index, pdf));
    this.queue = added.catch((error: unknown) => {
      this.failure ??= error;
    });
    return added;
  }

  /** Writes the page numbers, the page tree and the cross-reference table: the PDF is complete. */
  async finish(): Promise<JoinedPdf> {
    await this.queue;
    if (this.failure !== undefined) throw this.failure;
    const pages = this.parts.flat();
    const font = await pageNumberFont();
    pages.forEach(({ number, width }, index) =>
      this.context.assign(
        number,
        this.pageNumberStream(font, `Page ${index + 1} of ${pages.length}`, width),
      ),
    );
    font.embedInto(this.context, this.fontRef);
    this.context.assign(
      this.pagesRef,
      this.context.obj({
        Type: 'Pages',
        Kids: pages.map(({ page }) => page),
        Count: pages.length,
      }),
    );
    const catalog = this.context.register(
      this.context.obj({
        Type: 'Catalog',
        Pages: this.pagesRef,
        Lang: PDFString.of(DOCUMENT_LANGUAGE),
        // Viewers show the title, not the file name, in their title bar.
        ViewerPreferences: { DisplayDocTitle: true },
      }),
    );
    const subject = this.title && subjectOf(this.title);
    const info = this.context.register(
      this.context.obj({
        ...(this.title ? { Title: PDFHexString.fromText(this.title) } : {}),
        ...(subject ? { Subject: PDFHexString.fromText(subject) } : {}),
        Author: PDFString.of(DOCUMENT_AUTHOR),
        Producer: PDFString.of(DOCUMENT_AUTHOR),
        ...(this.created ? { CreationDate: this.created } : {}),
      }),
    );
    await this.writeObjects();
    const xrefOffset = this.written + this.bufferedBytes;
    const size = this.context.largestObjectNumber + 1;
    // Every entry is 20 bytes long. A number allocated but never written (a part's dangling
    // reference) is free; the free entries form a list from entry 0, as the format wants.
    const free = [0];
    for (let number = 1; number < size; number += 1) {
      if (this.offsets[number] === undefined) free.push(number);
    }
    const nextFree = new Map(free.map((number, i) => [number, free[(i + 1) % free.length]]));
    const entries = ['xref', `0 ${size}`];
    for (let number = 0; number < size; number += 1) {
      const offset = this.offsets[number];
      entries.push(
        offset === undefined
          ? `${String(nextFree.get(number)).padStart(10, '0')} ${number === 0 ? '65535' : '00001'} f\r`
          : `${String(offset).padStart(10, '0')} 00000 n\r`,
      );
    }
    this.append(
      Buffer.from(
        `${entries.join('\n')}\ntrailer\n<< /Size ${size} /Root ${catalog.toString()} ` +
          `/Info ${info.toString()} >>\nstartxref\n${xrefOffset}\n%%EOF\n`,
        'latin1',
      ),
    );
    await this.flush(true);
    return { bytes: this.written, pages: pages.length, sha256: this.hash.digest('base64url') };
  }

  /**
   * Writes nothing more: the render failed or timed out. Resolves once the part being added, and
   * the chunk it may be writing, are done: after that the sink gets nothing.
   */
  stop(): Promise<void> {
    this.stopped = true;
    return this.queue;
  }

  private async addNow(index: number, pdf: Uint8Array): Promise<void> {
    // Stopped, or an earlier part or chunk failed: the PDF will not be finished.
    if (this.stopped || this.failure !== undefined) return;
    const part = await PDFDocument.load(pdf, { updateMetadata: false });
    const copier = PDFObjectCopier.for(part.context, this.context);
    const info = part.context.lookupMaybe(part.context.trailerInfo.Info, PDFDict);
    const title = info?.lookup(PDFName.Title);
    if (title instanceof PDFString || title instanceof PDFHexString) {
      this.title ??= title.decodeText();
    }
    const created = info?.get(PDFName.of('CreationDate'));
    if (created) this.created ??= copier.copy(created);
    this.parts[index] = part.getPages().map((source) => {
      const leaf = copier.copy(source.node);
      leaf.set(PDFName.Parent, this.pagesRef);
      // The page's own content wrapped in q/Q, then the number, drawn on a clean state. (pdf-lib's
      // own page helpers do the same with compressed one-letter streams: 0.4 ms a report.)
      const number = this.context.nextRef();
      // Contents: a stream, or an array of streams (direct or referenced), or none.
      const contents = leaf.get(PDFName.Contents);
      const streams = contents && this.context.lookup(contents);
      const own = streams instanceof PDFArray ? streams.asArray() : contents ? [contents] : [];
      leaf.set(PDFName.Contents, this.context.obj([this.saveRef, ...own, this.restoreRef, number]));
      const resources = leaf.lookupMaybe(PDFName.Resources, PDFDict) ?? this.context.obj({});
      leaf.set(PDFName.Resources, resources);
      const fonts = resources.lookupMaybe(PDFName.Font, PDFDict) ?? this.context.obj({});
      resources.set(PDFName.Font, fonts);
      fonts.set(NUMBER_FONT, this.fontRef);
      for (const [, font] of fonts.entries()) {
        const dict = this.context.lookup(font);
        if (dict instanceof PDFDict) readableType3(dict);
      }
      return { page: this.context.register(leaf), number, width: source.getWidth() };
    });
    await this.writeObjects();
  }

  private pageNumberStream(font: PageNumberFont, text: string, pageWidth: number) {
    const x = (pageWidth - font.widthOfTextAtSize(text, FONT_SIZE)) / 2;
    return this.context.stream(
      `BT\n${NUMBER_FONT.asString()} ${FONT_SIZE} Tf\n0.35 0.35 0.35 rg\n` +
        `${x.toFixed(2)} ${BASELINE_PT} Td\n${font.encodeText(text).toString()} Tj\nET\n`,
    );
  }

  /** Writes every object assigned since the last call, and forgets them. */
  private async writeObjects(): Promise<void> {
    for (const [ref, object] of this.context.enumerateIndirectObjects()) {
      this.offsets[ref.objectNumber] = this.written + this.bufferedBytes;
      const body = Buffer.allocUnsafe(object.sizeInBytes());
      object.copyBytesInto(body, 0);
      this.append(Buffer.from(`${ref.objectNumber} 0 obj\n`, 'latin1'));
      this.append(body);
      this.append(Buffer.from('\nendobj\n', 'latin1'));
      this.context.delete(ref);
      await this.flush(false);
    }
  }

  private append(bytes: Buffer): void {
    this.buffered.push(bytes);
    this.bufferedBytes += bytes.length;
  }

  private async flush(last: boolean): Promise<void> {
    if (this.stopped || (this.bufferedBytes < this.chunkBytes && !last)) return;
    if (this.bufferedBytes === 0) return;
    const chunk = Buffer.concat(this.buffered, this.bufferedBytes);
    this.buffered = [];
    this.bufferedBytes = 0;
    await this.sink(chunk);
    this.hash.update(chunk);
    this.written += chunk.length;
  }
}

/** A sink that keeps the PDF in memory, for documents known to be small (specs, benchmarks). */
export function memorySink(): { sink: PdfSink; pdf: () => Buffer } {
  const chunks: Buffer[] = [];
  return {
    sink: async (chunk) => {
      chunks.push(chunk);
    },
    pdf: () => Buffer.concat(chunks),
  };
}
