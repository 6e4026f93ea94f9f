import fontkit from '@pdf-lib/fontkit';
import { CjkFonts, cjkFonts, CjkText, scriptLanguage } from './cjk-fonts';

/** Each @font-face of the CSS: its family, and the characters its font has. */
function faces(css: string): Map<string, string> {
  const found = new Map<string, string>();
  for (const [, family, data] of css.matchAll(
    /@font-face\{font-family:"([^"]+)";src:url\(data:font\/ttf;base64,([^)]+)\)\}/g,
  )) {
    const font = fontkit.create(Buffer.from(data, 'base64')) as unknown as {
      characterSet: number[];
    };
    found.set(
      family,
      [...font.characterSet]
        .sort((a, b) => a - b)
        .map((code) => String.fromCodePoint(code))
        .join(''),
    );
  }
  return found;
}

const sorted = (text: string) =>
  [...text].sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!).join('');

describe('CJK names', () => {
  // The faces scripts/setup.sh installs.
  let fonts: CjkFonts;
  beforeAll(async () => {
    fonts = await cjkFonts();
  });

  it('reads the three faces installed', () => {
    expect(fonts.families).toEqual(['IPAGothic', 'WenQuanYi Micro Hei', 'NanumGothic']);
  });

  it('knows a name’s language from kana, Hangul, or ideographs only the Chinese face has', () => {
    expect(scriptLanguage('たなか ゆうき')).toBe('ja');
    expect(scriptLanguage('山田 ユキ')).toBe('ja');
    expect(scriptLanguage('김민준')).toBe('ko');
    expect(scriptLanguage('山田 太郎')).toBeUndefined();
    expect(scriptLanguage('Anna Müller')).toBeUndefined();

    expect(fonts.language('张伟')).toBe('zh'); // 张: simplified, not in the Japanese face
    expect(fonts.language('黄晓明')).toBe('zh');
    expect(fonts.language('山田 太郎')).toBeUndefined(); // Japanese, or Chinese: no telling
    expect(fonts.language('王小明')).toBeUndefined();
    expect(fonts.language('김민준')).toBe('ko');
    expect(CjkFonts.none.language('张伟')).toBeUndefined();
  });

  it('cuts each face to the characters its names take from it, in the name’s order', () => {
    const text = new CjkText()
      .add('山田 太郎')
      .add('张伟', 'zh')
      .add('김민준 山', 'ko')
      .add('Anna Müller Γιώργος محمد');
    const css = faces(fonts.fontFaces(text));

    expect([...css.keys()]).toEqual(['Report CJK JP', 'Report CJK SC', 'Report CJK KR']);
    // 山 twice: in a Japanese-or-Chinese name from the Japanese face, in a Korean one from the Korean.
    expect(css.get('Report CJK JP')).toBe(sorted('山田太郎'));
    expect(css.get('Report CJK SC')).toBe(sorted('张伟'));
    expect(css.get('Report CJK KR')).toBe(sorted('김민준山'));
  });

  it('takes a character its face lacks from the next face, and none for Latin names', () => {
    // 张 is not in the Japanese face: a name of no known language takes it from the Chinese one.
    expect(faces(fonts.fontFaces(new CjkText().add('张 山')))).toEqual(
      new Map([
        ['Report CJK JP', '山'],
        ['Report CJK SC', '张'],
      ]),
    );
    expect(fonts.fontFaces(new CjkText().add('Anna Müller, Søren Ñúñez'))).toBe('');
    expect(new CjkText().add('Zoë 😀 Иван').empty).toBe(false);
    expect(fonts.fontFaces(new CjkText().add('Zoë 😀 Иван'))).toBe('');
    expect(CjkFonts.none.fontFaces(new CjkText().add('山田'))).toBe('');
  });
});
