/**
 * The fonts a report needs, as Chromium finds them through fontconfig: Debian's Noto packages, and
 * TrueType faces for Chinese, Japanese and Korean. Without them Chromium draws an empty box
 * (.notdef) for every character no installed font has.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

export interface ReportFont {
  family: string;
  scripts: string;
  debianPackage: string;
}

/** In the template's fallback order: Chromium takes each character from the first that has it. */
export const REPORT_FONTS: readonly ReportFont[] = [
  { family: 'Noto Sans', scripts: 'Latin, Greek, Cyrillic', debianPackage: 'fonts-noto-core' },
  { family: 'Noto Sans Arabic', scripts: 'Arabic', debianPackage: 'fonts-noto-core' },
  { family: 'Noto Sans Hebrew', scripts: 'Hebrew', debianPackage: 'fonts-noto-core' },
  { family: 'Noto Sans Devanagari', scripts: 'Devanagari', debianPackage: 'fonts-noto-core' },
  { family: 'Noto Sans Thai', scripts: 'Thai', debianPackage: 'fonts-noto-core' },
  // TrueType outlines (glyf), which Chromium embeds as CID TrueType subsets; each language's own
  // forms of the ideographs the three share. Printed from subsets the report carries (cjk-fonts.ts).
  { family: 'IPAGothic', scripts: 'Japanese', debianPackage: 'fonts-ipafont-gothic' },
  { family: 'WenQuanYi Micro Hei', scripts: 'Chinese', debianPackage: 'fonts-wqy-microhei' },
  { family: 'NanumGothic', scripts: 'Korean', debianPackage: 'fonts-nanum' },
  // The last resort for the ideographs the three lack (about 8,700 of Noto's 30,600, nearly all
  // outside the BMP's main block, such as 𠮷): CFF outlines, which Chromium embeds as Type 3
  // fonts, and a 19 MB face that costs ~85 ms a print, paid only by a report that prints one.
  { family: 'Noto Sans CJK JP', scripts: 'rare CJK ideographs', debianPackage: 'fonts-noto-cjk' },
  { family: 'Noto Color Emoji', scripts: 'emoji', debianPackage: 'fonts-noto-color-emoji' },
];

/** A language whose forms of the shared ideographs a name prints in. */
export type CjkLanguage = 'ja' | 'zh' | 'ko';

export interface CjkFace {
  language: CjkLanguage;
  /** The installed family the subsets are cut from. */
  family: string;
  /** The @font-face family of the subset a document carries. */
  subsetFamily: string;
  /** Noto Sans CJK's face of the language. */
  notoFamily: string;
}

/** In the order of a name of no known language: Japanese forms first, as the report always had. */
export const CJK_FACES: readonly CjkFace[] = [
  {
    language: 'ja',
    family: 'IPAGothic',
    subsetFamily: 'Report CJK JP',
    notoFamily: 'Noto Sans CJK JP',
  },
  {
    language: 'zh',
    family: 'WenQuanYi Micro Hei',
    subsetFamily: 'Report CJK SC',
    notoFamily: 'Noto Sans CJK SC',
  },
  {
    language: 'ko',
    family: 'NanumGothic',
    subsetFamily: 'Report CJK KR',
    notoFamily: 'Noto Sans CJK KR',
  },
];

/** The faces in the order a name in `language` looks for a character: its own first. */
export function cjkOrder(language?: CjkLanguage): CjkFace[] {
  return [...CJK_FACES].sort(
    (a, b) => Number(b.language === language) - Number(a.language === language),
  );
}

/**
 * The CSS font stack of a name in `language` (or of none): the Noto fonts; the document's CJK
 * subsets; Noto Sans CJK for what they lack (and for every CJK character of a document that
 * carries none); emoji; then whatever the system has. Chromium takes each character from the first
 * font that has it. The faces the subsets are cut from are left out: a CJK name never costs a
 * whole face a print, and a Type 3 font in the PDF shows that a subset was missing.
 */
export function fontStack(language?: CjkLanguage): string {
  const order = cjkOrder(language);
  const noto = REPORT_FONTS.filter((font) => font.debianPackage === 'fonts-noto-core').map(
    (font) => font.family,
  );
  return [
    ...noto,
    ...order.map((face) => face.subsetFamily),
    (order.find((face) => face.language === language) ?? order[0]).notoFamily,
    'Noto Color Emoji',
  ]
    .map((family) => `"${family}"`)
    .concat('sans-serif')
    .join(', ');
}

/** The CSS font stack of the document, whose names have no language of their own. */
export const FONT_STACK = fontStack();

const run = promisify(execFile);

/** Every family name fontconfig knows (`fc-list` prints a font's names comma-separated). */
async function installedFamilies(): Promise<Set<string>> {
  const { stdout } = await run('fc-list', ['--format', '%{family}\n'], { timeout: 10_000 });
  return new Set(stdout.split(/[\n,]/).map((name) => name.trim()));
}

/** The report fonts the system lacks. */
export async function missingFonts(
  families: () => Promise<Set<string>> = installedFamilies,
): Promise<ReportFont[]> {
  const installed = await families();
  return REPORT_FONTS.filter(({ family }) => !installed.has(family));
}

/**
 * Logs one warning when fonts are missing, naming what to install, at a worker's start. Never
 * throws: a worker without them still prints, with boxes where the glyphs should be.
 */
export async function warnOfMissingFonts(
  logger: { warn(message: string): void },
  families?: () => Promise<Set<string>>,
): Promise<void> {
  let missing: ReportFont[];
  try {
    missing = await missingFonts(families);
  } catch (error) {
    const packages = [...new Set(REPORT_FONTS.map((font) => font.debianPackage))].join(' ');
    logger.warn(
      `Could not list the system's fonts (${error instanceof Error ? error.message : String(error)}): ` +
        `reports need Debian's ${packages} (apt-get install -y ${packages})`,
    );
    return;
  }
  if (!missing.length) return;
  const packages = [...new Set(missing.map((font) => font.debianPackage))].join(' ');
  logger.warn(
    `Fonts missing: ${missing.map((font) => `${font.family} (${font.scripts})`).join(', ')}. ` +
      `Names in those scripts print as empty boxes. Install Debian's ${packages}: ` +
      `apt-get install -y ${packages}`,
  );
}

/**
 * The file of `family`'s regular face and its index in the file (a .ttc collection holds several),
 * as fontconfig resolves it, or undefined when the family is not installed (fc-match answers its
 * nearest font instead).
 */
export async function regularFontFace(
  family: string,
): Promise<{ file: string; index: number } | undefined> {
  const { stdout } = await run(
    'fc-match',
    ['--format', '%{family}\n%{file}\n%{index}', `${family}:style=Regular`],
    { timeout: 10_000 },
  );
  const [families = '', file = '', index = '0'] = stdout.split('\n');
  const matches = families.split(',').some((name) => name.trim() === family);
  return matches && file ? { file, index: Number(index) || 0 } : undefined;
}

/**
 * The file of `family`'s regular face, or undefined when the family is not installed or its file
 * is a collection.
 */
export async function regularFontFile(family: string): Promise<string | undefined> {
  const face = await regularFontFace(family);
  return face && /\.(ttf|otf)$/i.test(face.file) ? face.file : undefined;
}
