/**
 * TrueType subsets built in the process: a font of only the glyphs a document prints, small enough
 * to travel in its HTML as a data: URL. Chromium's cost of printing a font grows with the size of
 * the font file (measured: a 19 MB Noto Sans CJK face cost ~25,000 page faults and ~100 ms of CPU a
 * print, a 4-6 MB TrueType face 30-50 ms, a subset of the names' glyphs ~1,000 faults).
 *
 * Reads a TrueType font (glyf outlines; a face of a .ttc collection too) once, then writes
 * standalone fonts that a browser accepts: cmap, glyf, loca, hmtx, head, hhea, maxp, OS/2, name,
 * post, and the hinting tables as they are. No layout tables: the faces it is used for (CJK) need
 * no shaping, and the report prints horizontally.
 */

/** Tables copied as they are, when the font has them. */
const COPIED = ['OS/2', 'name', 'cvt ', 'fpgm', 'prep'];
/** Composite glyph flags (OpenType glyf table). */
const ARG_1_AND_2_ARE_WORDS = 0x0001;
const WE_HAVE_A_SCALE = 0x0008;
const MORE_COMPONENTS = 0x0020;
const WE_HAVE_AN_X_AND_Y_SCALE = 0x0040;
const WE_HAVE_A_TWO_BY_TWO = 0x0080;

export class TrueTypeFont {
  private readonly tables = new Map<string, Buffer>();
  /** Code point to glyph id, from the font's Unicode cmap. */
  private readonly glyphOf = new Map<number, number>();
  private readonly glyphCount: number;
  private readonly longLoca: boolean;
  private readonly metricsCount: number;

  /**
   * `data`: a .ttf, or a .ttc whose face `index` is read. Throws when it is not a TrueType font
   * with a Unicode cmap (a CFF font has no glyf table).
   */
  constructor(data: Buffer, index = 0) {
    let base = 0;
    if (data.toString('latin1', 0, 4) === 'ttcf') {
      if (index >= data.readUInt32BE(8)) throw new Error(`The collection has no face ${index}`);
      base = data.readUInt32BE(12 + 4 * index);
    }
    const count = data.readUInt16BE(base + 4);
    for (let i = 0; i < count; i += 1) {
      const record = base + 12 + 16 * i;
      const tag = data.toString('latin1', record, record + 4);
      const offset = data.readUInt32BE(record + 8);
      const length = data.readUInt32BE(record + 12);
      if (offset + length > data.length) throw new Error(`The ${tag} table is cut short`);
      this.tables.set(tag, data.subarray(offset, offset + length));
    }
    for (const tag of ['cmap', 'glyf', 'loca', 'head', 'hhea', 'hmtx', 'maxp']) {
      if (!this.tables.has(tag)) throw new Error(`Not a TrueType font: no ${tag} table`);
    }
    this.glyphCount = this.table('maxp').readUInt16BE(4);
    this.longLoca = this.table('head').readInt16BE(50) === 1;
    this.metricsCount = this.table('hhea').readUInt16BE(34);
    this.readCmap();
  }

  /** Whether the font has a glyph for the character (one code point). */
  has(char: string): boolean {
    return (this.glyphOf.get(char.codePointAt(0)!) ?? 0) !== 0;
  }

  /**
   * A standalone TrueType font holding the glyphs of `chars` (each a code point; those the font
   * lacks are left out) and .notdef. The same characters give the same bytes.
   */
  subset(chars: Iterable<string>): Buffer {
    const codes = [...new Set([...chars].map((char) => char.codePointAt(0)!))]
      .filter((code) => this.glyphOf.get(code))
      .sort((a, b) => a - b);
    // New glyph ids: .notdef, the characters' glyphs, then the components of composite glyphs.
    const order = [0];
    const newId = new Map<number, number>([[0, 0]]);
    const include = (glyph: number): number => {
      let id = newId.get(glyph);
      if (id === undefined) {
        id = order.length;
        order.push(glyph);
        newId.set(glyph, id);
      }
      return id;
    };
    const cmap = codes.map((code) => [code, include(this.glyphOf.get(code)!)] as const);
    const glyphs: Buffer[] = [];
    // `order` grows while it is walked: composite glyphs add their components.
    for (let i = 0; i < order.length; i += 1) {
      const data = Buffer.from(this.glyphData(order[i]));
      if (data.length >= 10 && data.readInt16BE(0) < 0) {
        let at = 10;
        for (;;) {
          const flags = data.readUInt16BE(at);
          data.writeUInt16BE(include(data.readUInt16BE(at + 2)), at + 2);
          at += 4 + (flags & ARG_1_AND_2_ARE_WORDS ? 4 : 2);
          if (flags & WE_HAVE_A_SCALE) at += 2;
          else if (flags & WE_HAVE_AN_X_AND_Y_SCALE) at += 4;
          else if (flags & WE_HAVE_A_TWO_BY_TWO) at += 8;
          if (!(flags & MORE_COMPONENTS)) break;
        }
      }
      glyphs.push(data);
    }

    const loca = Buffer.alloc(4 * (glyphs.length + 1));
    const glyf = Buffer.concat(
      glyphs.map((data, i) => {
        const padded = Buffer.alloc((data.length + 3) & ~3);
        data.copy(padded);
        loca.writeUInt32BE(loca.readUInt32BE(4 * i) + padded.length, 4 * (i + 1));
        return padded;
      }),
    );
    const hmtx = Buffer.alloc(4 * glyphs.length);
    order.forEach((glyph, i) => {
      const [advance, bearing] = this.metrics(glyph);
      hmtx.writeUInt16BE(advance, 4 * i);
      hmtx.writeInt16BE(bearing, 4 * i + 2);
    });
    const head = Buffer.from(this.table('head'));
    head.writeUInt32BE(0, 8); // checkSumAdjustment, set once the font is written
    head.writeInt16BE(1, 50); // indexToLocFormat: long offsets
    const hhea = Buffer.from(this.table('hhea'));
    hhea.writeUInt16BE(glyphs.length, 34);
    const maxp = Buffer.from(this.table('maxp'));
    maxp.writeUInt16BE(glyphs.length, 4);
    // Version 3: no glyph names; the rest of the header as the font has it.
    const post = Buffer.alloc(32);
    this.tables.get('post')?.copy(post, 0, 0, Math.min(16, this.table('post').length));
    post.writeUInt32BE(0x00030000, 0);

    const tables = new Map<string, Buffer>([
      ['cmap', cmapTable(cmap)],
      ['glyf', glyf],
      ['head', head],
      ['hhea', hhea],
      ['hmtx', hmtx],
      ['loca', loca],
      ['maxp', maxp],
      ['post', post],
    ]);
    for (const tag of COPIED) {
      const table = this.tables.get(tag);
      if (table) tables.set(tag, table);
    }
    return writeFont(tables);
  }

  private table(tag: string): Buffer {
    return this.tables.get(tag)!;
  }

  private glyphData(glyph: number): Buffer {
    const loca = this.table('loca');
    const [start, end] = this.longLoca
      ? [loca.readUInt32BE(4 * glyph), loca.readUInt32BE(4 * glyph + 4)]
      : [2 * loca.readUInt16BE(2 * glyph), 2 * loca.readUInt16BE(2 * glyph + 2)];
    return this.table('glyf').subarray(start, Math.max(start, end));
  }

  /** Advance width and left side bearing. */
  private metrics(glyph: number): [number, number] {
    const hmtx = this.table('hmtx');
    const long = Math.min(glyph, this.metricsCount - 1);
    const advance = hmtx.readUInt16BE(4 * long);
    const bearing =
      glyph < this.metricsCount
        ? hmtx.readInt16BE(4 * glyph + 2)
        : hmtx.readInt16BE(4 * this.metricsCount + 2 * (glyph - this.metricsCount));
    return [advance, bearing];
  }

  /** Reads the Unicode cmap: format 12 (every plane) when the font has it, else format 4. */
  private readCmap(): void {
    const cmap = this.table('cmap');
    const subtables: Array<{ format: number; offset: number }> = [];
    for (let i = 0; i < cmap.readUInt16BE(2); i += 1) {
      const platform = cmap.readUInt16BE(4 + 8 * i);
      const encoding = cmap.readUInt16BE(6 + 8 * i);
      const offset = cmap.readUInt32BE(8 + 8 * i);
      const unicode = platform === 0 || (platform === 3 && (encoding === 1 || encoding === 10));
      if (unicode) subtables.push({ format: cmap.readUInt16BE(offset), offset });
    }
    const best =
      subtables.find((table) => table.format === 12) ??
      subtables.find((table) => table.format === 4);
    if (!best) throw new Error('The font has no Unicode cmap of format 4 or 12');
    const at = best.offset;
    if (best.format === 12) {
      for (let i = 0; i < cmap.readUInt32BE(at + 12); i += 1) {
        const group = at + 16 + 12 * i;
        const start = cmap.readUInt32BE(group);
        const end = cmap.readUInt32BE(group + 4);
        const glyph = cmap.readUInt32BE(group + 8);
        for (let code = start; code <= end; code += 1) this.map(code, glyph + code - start);
      }
      return;
    }
    const segments = cmap.readUInt16BE(at + 6) / 2;
    const ends = at + 14;
    const starts = ends + 2 * segments + 2;
    const deltas = starts + 2 * segments;
    const rangeOffsets = deltas + 2 * segments;
    for (let s = 0; s < segments; s += 1) {
      const start = cmap.readUInt16BE(starts + 2 * s);
      const end = cmap.readUInt16BE(ends + 2 * s);
      const delta = cmap.readUInt16BE(deltas + 2 * s);
      const rangeOffset = cmap.readUInt16BE(rangeOffsets + 2 * s);
      for (let code = start; code <= end && code !== 0xffff; code += 1) {
        if (rangeOffset === 0) {
          this.map(code, (code + delta) & 0xffff);
        } else {
          const where = rangeOffsets + 2 * s + rangeOffset + 2 * (code - start);
          const glyph = where + 2 <= cmap.length ? cmap.readUInt16BE(where) : 0;
          if (glyph) this.map(code, (glyph + delta) & 0xffff);
        }
      }
    }
  }

  private map(code: number, glyph: number): void {
    if (glyph > 0 && glyph < this.glyphCount) this.glyphOf.set(code, glyph);
  }
}

/** A cmap of the characters, sorted: format 4 for those of the BMP, format 12 for all. */
function cmapTable(map: ReadonlyArray<readonly [number, number]>): Buffer {
  const bmp = map.filter(([code]) => code < 0xffff);
  // Format 4: a segment per character (idDelta maps it), then the closing 0xFFFF segment.
  const segments = bmp.length + 1;
  const format4 = Buffer.alloc(16 + 8 * segments);
  format4.writeUInt16BE(4, 0);
  format4.writeUInt16BE(format4.length, 2);
  format4.writeUInt16BE(2 * segments, 6);
  const power = 2 ** Math.floor(Math.log2(segments));
  format4.writeUInt16BE(2 * power, 8);
  format4.writeUInt16BE(Math.log2(power), 10);
  format4.writeUInt16BE(2 * segments - 2 * power, 12);
  const ends = 14;
  const starts = ends + 2 * segments + 2;
  const deltas = starts + 2 * segments;
  [...bmp, [0xffff, 0] as const].forEach(([code, glyph], s) => {
    format4.writeUInt16BE(code, ends + 2 * s);
    format4.writeUInt16BE(code, starts + 2 * s);
    format4.writeUInt16BE((glyph - code) & 0xffff, deltas + 2 * s);
  });
  const format12 = Buffer.alloc(16 + 12 * map.length);
  format12.writeUInt16BE(12, 0);
  format12.writeUInt32BE(format12.length, 4);
  format12.writeUInt32BE(map.length, 12);
  map.forEach(([code, glyph], i) => {
    format12.writeUInt32BE(code, 16 + 12 * i);
    format12.writeUInt32BE(code, 20 + 12 * i);
    format12.writeUInt32BE(glyph, 24 + 12 * i);
  });
  // Two encoding records, Windows BMP (3, 1) and Windows full (3, 10).
  const header = Buffer.alloc(4 + 8 * 2);
  header.writeUInt16BE(2, 2);
  header.writeUInt16BE(3, 4);
  header.writeUInt16BE(1, 6);
  header.writeUInt32BE(header.length, 8);
  header.writeUInt16BE(3, 12);
  header.writeUInt16BE(10, 14);
  header.writeUInt32BE(header.length + format4.length, 16);
  return Buffer.concat([header, format4, format12]);
}

function checksum(data: Buffer): number {
  let sum = 0;
  const padded =
    data.length % 4 ? Buffer.concat([data, Buffer.alloc(4 - (data.length % 4))]) : data;
  for (let i = 0; i < padded.length; i += 4) sum = (sum + padded.readUInt32BE(i)) >>> 0;
  return sum;
}

/** An sfnt of the tables, in tag order, each on a four-byte boundary, with its checksums. */
function writeFont(tables: Map<string, Buffer>): Buffer {
  const tags = [...tables.keys()].sort();
  const power = 2 ** Math.floor(Math.log2(tags.length));
  const header = Buffer.alloc(12 + 16 * tags.length);
  header.writeUInt32BE(0x00010000, 0);
  header.writeUInt16BE(tags.length, 4);
  header.writeUInt16BE(16 * power, 6);
  header.writeUInt16BE(Math.log2(power), 8);
  header.writeUInt16BE(16 * tags.length - 16 * power, 10);
  const bodies: Buffer[] = [];
  let offset = header.length;
  tags.forEach((tag, i) => {
    const data = tables.get(tag)!;
    const record = 12 + 16 * i;
    header.write(tag, record, 'latin1');
    header.writeUInt32BE(checksum(data), record + 4);
    header.writeUInt32BE(offset, record + 8);
    header.writeUInt32BE(data.length, record + 12);
    const padded = Buffer.alloc((data.length + 3) & ~3);
    data.copy(padded);
    bodies.push(padded);
    offset += padded.length;
  });
  const font = Buffer.concat([header, ...bodies]);
  const head = header.readUInt32BE(12 + 16 * tags.indexOf('head') + 8);
  font.writeUInt32BE((0xb1b0afba - checksum(font)) >>> 0, head + 8);
  return font;
}
