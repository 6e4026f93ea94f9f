import { missingFonts, regularFontFile, REPORT_FONTS, warnOfMissingFonts } from './fonts';

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
      new Set(['fonts-noto-core', 'fonts-noto-cjk', 'fonts-noto-color-emoji']),
    );
  });

  it('warns once, naming the missing families and the packages to install', async () => {
    const log = logger();
    await warnOfMissingFonts(log, allBut('Noto Sans CJK JP', 'Noto Color Emoji'));

    expect(log.warnings).toHaveLength(1);
    expect(log.warnings[0]).toContain('Noto Sans CJK JP (Chinese, Japanese, Korean)');
    expect(log.warnings[0]).toContain('Noto Color Emoji (emoji)');
    expect(log.warnings[0]).toContain('apt-get install -y fonts-noto-cjk fonts-noto-color-emoji');
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
    expect(log.warnings[0]).toContain('fonts-noto-core fonts-noto-cjk fonts-noto-color-emoji');
  });

  // The machine's own fonts, which scripts/setup.sh installs.
  it('finds every report font on this machine, and the file of Noto Sans', async () => {
    expect(await missingFonts()).toEqual([]);
    expect(await regularFontFile('Noto Sans')).toMatch(/NotoSans-Regular\.ttf$/);
    expect(await regularFontFile('No Such Family')).toBeUndefined();
  });
});
