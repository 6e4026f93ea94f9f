import { readFile } from 'node:fs/promises';
import fontkit from '@pdf-lib/fontkit';
import { TrueTypeFont } from './font-subset';
import { regularFontFace } from './fonts';

/** The fonts scripts/setup.sh installs. */
async function installed(family: string): Promise<{ data: Buffer; index: number }> {
  const face = await regularFontFace(family);
  if (!face) throw new Error(`${family} is not installed (scripts/setup.sh installs it)`);
  return { data: await readFile(face.file), index: face.index };
}

interface ParsedFont {
  postscriptName: string;
  numGlyphs: number;
  characterSet: number[];
  glyphForCodePoint(code: number): { path: { toSVG(): string }; advanceWidth: number };
}

/** The font as fontkit reads it: another reader than the one that wrote it. */
function parse(data: Buffer, postscriptName?: string): ParsedFont {
  return (fontkit.create as (data: Buffer, name?: string) => unknown)(
    data,
    postscriptName,
  ) as ParsedFont;
}

const codes = (text: string) => [...text].map((char) => char.codePointAt(0)!);

describe('TrueTypeFont.subset', () => {
  it('holds the glyphs of the characters the font has, drawn and spaced as in the font', async () => {
    const { data } = await installed('IPAGothic');
    const subset = new TrueTypeFont(data).subset('山田 たなか张');
    const original = parse(data);
    const font = parse(subset);

    // 张 (simplified) is not in the Japanese font: left out.
    expect(font.characterSet.sort((a, b) => a - b)).toEqual(
      codes(' たなか山田').sort((a, b) => a - b),
    );
    expect(font.numGlyphs).toBe(7); // .notdef and six characters
    expect(font.postscriptName).toBe('IPAGothic');
    for (const code of codes('山田 たなか')) {
      expect(font.glyphForCodePoint(code).path.toSVG()).toBe(
        original.glyphForCodePoint(code).path.toSVG(),
      );
      expect(font.glyphForCodePoint(code).advanceWidth).toBe(
        original.glyphForCodePoint(code).advanceWidth,
      );
    }
    expect(subset.length).toBeLessThan(20_000);
  });

  it('carries the components of composite glyphs (NanumGothic builds Hangul syllables of them)', async () => {
    const { data } = await installed('NanumGothic');
    const original = parse(data);
    const font = parse(new TrueTypeFont(data).subset('갂김'));

    expect(font.numGlyphs).toBeGreaterThan(3);
    for (const code of codes('갂김')) {
      const path = font.glyphForCodePoint(code).path.toSVG();
      expect(path).not.toBe('');
      expect(path).toBe(original.glyphForCodePoint(code).path.toSVG());
    }
  });

  it('reads a face of a collection, and gives the same bytes for the same characters', async () => {
    const { data, index } = await installed('WenQuanYi Micro Hei');
    const face = new TrueTypeFont(data, index);
    const subset = face.subset('张伟');

    expect(parse(subset).postscriptName).toBe('WenQuanYiMicroHei');
    expect(parse(subset).characterSet.sort()).toEqual(codes('张伟').sort());
    expect(face.subset('伟张伟').equals(subset)).toBe(true);
    expect(face.has('张')).toBe(true);
    expect(face.has('\uE000')).toBe(false);
  });

  it('refuses a font of CFF outlines (Noto Sans CJK), which it cannot cut', async () => {
    const { data, index } = await installed('Noto Sans CJK JP');

    expect(() => new TrueTypeFont(data, index)).toThrow('Not a TrueType font: no glyf table');
  });
});
