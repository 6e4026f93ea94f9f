/**
 * Reading a PDF as its users' tools do: poppler's pdftotext, pdffonts and pdfinfo (Debian's
 * poppler-utils, which scripts/setup.sh installs), and the glyphs its pages draw (pdf-lib).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  decodePDFRawStream,
  PDFArray,
  PDFDict,
  PDFDocument,
  PDFHexString,
  PDFName,
  PDFNumber,
  PDFRawStream,
  PDFRef,
  PDFStream,
  PDFString,
} from 'pdf-lib';

const run = promisify(execFile);

/** Runs a poppler tool on the PDF, written to a file of its own. */
async function poppler(tool: string, pdf: Buffer, args: string[] = []): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pdf-'));
  try {
    const file = join(dir, 'report.pdf');
    await writeFile(file, pdf);
    const { stdout } = await run(tool, [...args, file, ...(tool === 'pdftotext' ? ['-'] : [])], {
      maxBuffer: 64 * 1024 * 1024,
    });
    return stdout;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The text pdftotext reads, of every page or of page `page` alone. */
export function pdftotext(pdf: Buffer, page?: number): Promise<string> {
  return poppler('pdftotext', pdf, page ? ['-f', String(page), '-l', String(page)] : []);
}

export interface FontRow {
  name: string;
  type: string;
  embedded: boolean;
}

/** pdffonts' table: every font of every page. */
export async function pdffonts(pdf: Buffer): Promise<FontRow[]> {
  const lines = (await poppler('pdffonts', pdf)).trimEnd().split('\n').slice(2);
  // name, type (one or two words), encoding, emb, sub, uni, object number, generation.
  return lines.map((line) => {
    const match = /^(\S+)\s+(.+?)\s+(\S+)\s+(yes|no)\s+(yes|no)\s+(yes|no)\s+\d+\s+\d+$/.exec(line);
    if (!match) throw new Error(`Unexpected pdffonts line: ${line}`);
    return { name: match[1], type: match[2], embedded: match[4] === 'yes' };
  });
}

/** pdfinfo's fields: Title, Author, Subject, Pages… */
export async function pdfinfo(pdf: Buffer): Promise<Record<string, string>> {
  const fields: Record<string, string> = {};
  for (const line of (await poppler('pdfinfo', pdf)).split('\n')) {
    const match = /^([^:]+):\s+(.*)$/.exec(line);
    if (match) fields[match[1]] = match[2];
  }
  return fields;
}

/** The PDF's /Lang, from its catalog. */
export async function pdfLanguage(pdf: Buffer): Promise<string | undefined> {
  const lang = (await PDFDocument.load(pdf)).catalog.lookup(PDFName.of('Lang'));
  return lang instanceof PDFString || lang instanceof PDFHexString ? lang.decodeText() : undefined;
}

/** Content stream tokens: operators, and the operands before them (strings as bytes). */
type Operand = Buffer | string | number | Operand[];

function* tokens(content: Buffer): Generator<{ operator: string; operands: Operand[] }> {
  let i = 0;
  const operands: Operand[] = [];
  const stack: Operand[][] = [];
  const push = (value: Operand) => (stack.length ? stack[stack.length - 1] : operands).push(value);
  const isSpace = (c: number) =>
    c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09 || c === 0x0c || c === 0;
  const isDelimiter = (c: number) => '()<>[]{}/%'.includes(String.fromCharCode(c));
  while (i < content.length) {
    const c = content[i];
    if (isSpace(c)) {
      i += 1;
    } else if (c === 0x25 /* % */) {
      while (i < content.length && content[i] !== 0x0a && content[i] !== 0x0d) i += 1;
    } else if (c === 0x28 /* ( */) {
      const bytes: number[] = [];
      let depth = 1;
      i += 1;
      while (depth > 0) {
        let b = content[i++];
        if (b === 0x5c /* \ */) {
          b = content[i++];
          const escapes: Record<number, number> = {
            0x6e: 10,
            0x72: 13,
            0x74: 9,
            0x62: 8,
            0x66: 12,
          };
          if (b >= 0x30 && b <= 0x37) {
            let octal = String.fromCharCode(b);
            while (octal.length < 3 && content[i] >= 0x30 && content[i] <= 0x37) {
              octal += String.fromCharCode(content[i++]);
            }
            bytes.push(parseInt(octal, 8));
          } else if (b !== 0x0a && b !== 0x0d) {
            bytes.push(escapes[b] ?? b);
          }
          continue;
        }
        if (b === 0x28) depth += 1;
        if (b === 0x29) depth -= 1;
        if (depth > 0) bytes.push(b);
      }
      push(Buffer.from(bytes));
    } else if (c === 0x3c && content[i + 1] === 0x3c) {
      stack.push([]); // a dictionary: kept as the list of its keys and values
      i += 2;
    } else if (c === 0x3e && content[i + 1] === 0x3e) {
      const dict = stack.pop()!;
      push(dict);
      i += 2;
    } else if (c === 0x3c /* < */) {
      const end = content.indexOf(0x3e, i);
      const hex = content
        .subarray(i + 1, end)
        .toString('latin1')
        .replace(/\s+/g, '');
      push(Buffer.from(hex.length % 2 ? `${hex}0` : hex, 'hex'));
      i = end + 1;
    } else if (c === 0x5b /* [ */) {
      stack.push([]);
      i += 1;
    } else if (c === 0x5d /* ] */) {
      const array = stack.pop()!;
      push(array);
      i += 1;
    } else {
      let end = i + 1;
      while (end < content.length && !isSpace(content[end]) && !isDelimiter(content[end])) end += 1;
      const word = content.subarray(i, end).toString('latin1');
      i = end;
      if (c === 0x2f /* / */) {
        push(word); // a name, "/F5"
      } else if (/^[+-]?(\d+\.?\d*|\.\d+)$/.test(word)) {
        push(Number(word));
      } else if (stack.length) {
        push(word); // true, false, null inside an array or a dictionary
      } else {
        yield { operator: word, operands: operands.splice(0) };
      }
    }
  }
}

function streamBytes(stream: PDFStream): Buffer {
  return Buffer.from(
    stream instanceof PDFRawStream ? decodePDFRawStream(stream).decode() : stream.getContents(),
  );
}

/** Whether the character code `code` of `font` draws .notdef (glyph 0). */
function notdefTest(font: PDFDict): { bytesPerCode: number; isNotdef: (code: number) => boolean } {
  const subtype = font.get(PDFName.of('Subtype'))?.toString();
  if (subtype === '/Type0') {
    // Identity-H: a code is a CID; Chromium's CIDToGIDMap is Identity, so the CID is the glyph.
    const encoding = font.get(PDFName.of('Encoding'))?.toString();
    const descendant = font.lookup(PDFName.of('DescendantFonts'), PDFArray).lookup(0, PDFDict);
    const map = descendant.get(PDFName.of('CIDToGIDMap'))?.toString();
    if (encoding !== '/Identity-H' || (map !== undefined && map !== '/Identity')) {
      throw new Error(`Unexpected Type0 font: ${encoding}, ${map}`);
    }
    return { bytesPerCode: 2, isNotdef: (code) => code === 0 };
  }
  if (subtype === '/Type3') {
    // Skia names a Type 3 glyph "g" and its glyph id in hex: /g0 is .notdef.
    const differences = font
      .lookup(PDFName.of('Encoding'), PDFDict)
      .lookup(PDFName.of('Differences'), PDFArray);
    const names = new Map<number, string>();
    let code = 0;
    for (const item of differences.asArray()) {
      if (item instanceof PDFNumber) code = item.asNumber();
      else names.set(code++, item.toString());
    }
    return {
      bytesPerCode: 1,
      isNotdef: (c) => ['/g0', '/.notdef', undefined].includes(names.get(c)),
    };
  }
  throw new Error(`Unexpected font type ${subtype}`);
}

/**
 * How many glyphs the pages draw that are .notdef, the empty box of a character no font had:
 * every string shown (Tj, TJ, ', ") decoded through its font, Form XObjects included.
 */
export async function notdefGlyphs(pdf: Buffer): Promise<{ glyphs: number; notdef: number }> {
  const document = await PDFDocument.load(pdf);
  const counts = { glyphs: 0, notdef: 0 };
  const walk = (content: Buffer, resources: PDFDict | undefined) => {
    const fonts = resources?.lookupMaybe(PDFName.Font, PDFDict);
    const xobjects = resources?.lookupMaybe(PDFName.XObject, PDFDict);
    let font: ReturnType<typeof notdefTest> | undefined;
    const show = (text: Operand) => {
      if (!Buffer.isBuffer(text)) return;
      if (!font) throw new Error('Text shown before any font was set');
      for (let i = 0; i + font.bytesPerCode <= text.length; i += font.bytesPerCode) {
        const code = font.bytesPerCode === 2 ? text.readUInt16BE(i) : text[i];
        counts.glyphs += 1;
        if (font.isNotdef(code)) counts.notdef += 1;
      }
    };
    for (const { operator, operands } of tokens(content)) {
      if (operator === 'Tf') {
        const dict = fonts?.lookup(PDFName.of(String(operands[0]).slice(1)), PDFDict);
        if (!dict) throw new Error(`No font ${String(operands[0])}`);
        font = notdefTest(dict);
      } else if (operator === 'Tj' || operator === "'" || operator === '"') {
        show(operands[operands.length - 1]);
      } else if (operator === 'TJ') {
        for (const item of operands[0] as Operand[]) show(item);
      } else if (operator === 'Do') {
        const xobject = xobjects?.lookup(PDFName.of(String(operands[0]).slice(1)));
        if (
          xobject instanceof PDFStream &&
          xobject.dict.get(PDFName.of('Subtype'))?.toString() === '/Form'
        ) {
          walk(
            streamBytes(xobject),
            xobject.dict.lookupMaybe(PDFName.Resources, PDFDict) ?? resources,
          );
        }
      }
    }
  };
  for (const page of document.getPages()) {
    const contents = page.node.Contents();
    const streams = contents instanceof PDFArray ? contents.asArray() : contents ? [contents] : [];
    const content = Buffer.concat(
      streams.map((ref) => {
        const stream = ref instanceof PDFRef ? document.context.lookup(ref) : ref;
        return Buffer.concat([streamBytes(stream as PDFStream), Buffer.from('\n')]);
      }),
    );
    walk(content, page.node.Resources());
  }
  return counts;
}
