import {
  fontStack,
  missingFonts,
  regularFontFace,
  regularFontFile,
  REPORT_FONTS,
  warnOfMissingFonts,
} from './fonts';

const allBut =
  (...absent: string[]) =>
  async () =>
    new Set(REPORT_FONTS.map(({ family }) => family).filter((family) => !absent.includes(family)));

function logger() {
  const warnings: string[] = [];
  return { warnings, warn: (message: string) => warnings.push(message) };
}

describe('report fonts', () => {
  it('covers the ten scripts, each from a Debian package', () => {
    const scripts = REPORT_FONTS.map((font) => font.scripts).join(', ');
    for (const script of ['Latin', 'Greek', 'Cyrillic', 'Chinese', 'Japanese', 'Korean']) {
      expect(scripts).toContain(script);
    }
    for (const script of ['Arabic', 'Hebrew', 'Devanagari', 'Thai', 'emoji']) {
      expect(scripts).toContain(script);
    }
    expect(new Set(REPORT_FONTS.map((font) => font.debianPackage))).toEqual(
      new Set([
        'fonts-noto-core',
        'fonts-ipafont-gothic',
        'fonts-wqy-microhei',
        'fonts-nanum',
        'fonts-noto-cjk',
        'fonts-noto-color-emoji',
      ]),
    );
  });

  it('warns once, naming the missing families and the packages to install', async () => {
    const log = logger();
    await warnOfMissingFonts(log, allBut('NanumGothic', 'Noto Color Emoji'));

    expect(log.warnings).toHaveLength(1);
    expect(log.warnings[0]).toContain('NanumGothic (Korean)');
    expect(log.warnings[0]).toContain('Noto Color Emoji (emoji)');
    expect(log.warnings[0]).toContain('apt-get install -y fonts-nanum fonts-noto-color-emoji');
  });

  it('names a package once however many of its families are missing', async () => {
    const log = logger();
    await warnOfMissingFonts(log, allBut('Noto Sans Arabic', 'Noto Sans Thai'));

    expect(log.warnings[0]).toMatch(/apt-get install -y fonts-noto-core$/);
  });

  it('says nothing when every font is there', async () => {
    const log = logger();
    await warnOfMissingFonts(log, allBut());
    expect(log.warnings).toEqual([]);
  });

  it('warns, and does not throw, when the fonts cannot be listed', async () => {
    const log = logger();
    await warnOfMissingFonts(log, () => Promise.reject(new Error('spawn fc-list ENOENT')));

    expect(log.warnings).toHaveLength(1);
    expect(log.warnings[0]).toContain('spawn fc-list ENOENT');
    expect(log.warnings[0]).toContain(
      'fonts-noto-core fonts-ipafont-gothic fonts-wqy-microhei fonts-nanum fonts-noto-cjk ' +
        'fonts-noto-color-emoji',
    );
  });

  // The machine's own fonts, which scripts/setup.sh installs.
  it('finds every report font on this machine, and the file of Noto Sans', async () => {
    expect(await missingFonts()).toEqual([]);
    expect(await regularFontFile('Noto Sans')).toMatch(/NotoSans-Regular\.ttf$/);
    expect(await regularFontFile('No Such Family')).toBeUndefined();
  });

  it('finds a face inside a collection, with its index', async () => {
    expect(await regularFontFace('WenQuanYi Micro Hei')).toEqual({
      file: expect.stringMatching(/wqy-microhei\.ttc$/),
      index: 0,
    });
    // A collection is no file pdf-lib can embed.
    expect(await regularFontFile('WenQuanYi Micro Hei')).toBeUndefined();
    expect(await regularFontFace('No Such Family')).toBeUndefined();
  });

  it('puts a name’s own CJK subsets first, then Noto Sans CJK, never the faces they are cut from', () => {
    const families = (stack: string) => stack.split(', ').map((family) => family.replace(/"/g, ''));
    const cjk = (stack: string) =>
      families(stack).filter((family) => /CJK|IPA|WenQuanYi|Nanum/.test(family));

    expect(cjk(fontStack())).toEqual([
      'Report CJK JP',
      'Report CJK SC',
      'Report CJK KR',
      'Noto Sans CJK JP',
    ]);
    expect(cjk(fontStack('ko'))).toEqual([
      'Report CJK KR',
      'Report CJK JP',
      'Report CJK SC',
      'Noto Sans CJK KR',
    ]);
    expect(cjk(fontStack('zh'))[0]).toBe('Report CJK SC');
    expect(families(fontStack('zh')).slice(0, 5)).toEqual(families(fontStack()).slice(0, 5));
    expect(families(fontStack()).slice(-2)).toEqual(['Noto Color Emoji', 'sans-serif']);
  });
});
