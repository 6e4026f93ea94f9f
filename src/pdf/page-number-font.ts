/**
 * The font of the "Page X of Y" stamp: a subset of Noto Sans (else DejaVu Sans) holding the
 * stamp's few characters, built once per process and copied into each joined PDF, so that every
 * font of the report is embedded. Standard Helvetica, not embedded, only if neither is installed.
 */
import { readFile } from 'node:fs/promises';
import { Logger } from '@nestjs/common';
import fontkit from '@pdf-lib/fontkit';
import {
  CustomFontSubsetEmbedder,
  PDFContext,
  PDFDict,
  PDFHexString,
  PDFObjectCopier,
  PDFRef,
  StandardFontEmbedder,
  StandardFonts,
} from 'pdf-lib';
import { regularFontFile } from './fonts';

/** Every character a stamp may hold. */
const STAMP_CHARACTERS = 'Page of 0123456789';
const FAMILIES = ['Noto Sans', 'DejaVu Sans'];

export interface PageNumberFont {
  /** The font's name, for logs and specs. */
  readonly name: string;
  readonly embedded: boolean;
  widthOfTextAtSize(text: string, size: number): number;
  encodeText(text: string): PDFHexString;
  /** Writes the font's objects into `context`, the font dictionary at `ref`. */
  embedInto(context: PDFContext, ref: PDFRef): void;
}

async function subsetFont(family: string, file: string): Promise<PageNumberFont> {
  // A subset's name starts with a tag of six capitals (PDF 32000, 9.6.4).
  const name = `PAGENO+${family.replace(/ /g, '')}-Regular`;
  const embedder = await CustomFontSubsetEmbedder.for(fontkit, await readFile(file), name);
  // Encoding the characters once puts their glyphs in the subset, with the ids every stamp uses.
  embedder.encodeText(STAMP_CHARACTERS);
  const built = PDFContext.create();
  const fontRef = await embedder.embedIntoContext(built);
  const font = built.lookup(fontRef, PDFDict);
  return {
    name: family,
    embedded: true,
    widthOfTextAtSize: (text, size) => embedder.widthOfTextAtSize(text, size),
    encodeText: (text) => {
      if ([...text].some((char) => !STAMP_CHARACTERS.includes(char))) {
        throw new Error(`The page-number font has no glyphs for "${text}"`);
      }
      return embedder.encodeText(text);
    },
    embedInto: (context, ref) =>
      context.assign(ref, PDFObjectCopier.for(built, context).copy(font)),
  };
}

function helvetica(): PageNumberFont {
  const embedder = StandardFontEmbedder.for(
    // pdf-lib types the same font names twice, with two enums.
    StandardFonts.Helvetica as unknown as Parameters<typeof StandardFontEmbedder.for>[0],
  );
  return {
    name: 'Helvetica',
    embedded: false,
    widthOfTextAtSize: (text, size) => embedder.widthOfTextAtSize(text, size),
    encodeText: (text) => embedder.encodeText(text),
    embedInto: (context, ref) => {
      embedder.embedIntoContext(context, ref);
    },
  };
}

async function load(): Promise<PageNumberFont> {
  for (const family of FAMILIES) {
    try {
      const file = await regularFontFile(family);
      if (file) return await subsetFont(family, file);
    } catch (error) {
      new Logger('PageNumberFont').warn(`Could not load ${family}: ${String(error)}`);
    }
  }
  new Logger('PageNumberFont').warn(
    `None of ${FAMILIES.join(', ')} is installed: page numbers use Helvetica, not embedded ` +
      `(apt-get install -y fonts-noto-core)`,
  );
  return helvetica();
}

let loading: Promise<PageNumberFont> | undefined;

/** Loaded on first use, once per process. */
export function pageNumberFont(): Promise<PageNumberFont> {
  loading ??= load();
  return loading;
}
