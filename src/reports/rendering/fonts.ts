/**
 * The fonts a report needs, as Chromium finds them through fontconfig: Debian's Noto packages.
 * Without them Chromium draws an empty box (.notdef) for every character no installed font has.
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
  // One Pan-CJK font: its Japanese face has every Chinese and Korean character too (the faces
  // differ in the shapes of some ideographs they share).
  {
    family: 'Noto Sans CJK JP',
    scripts: 'Chinese, Japanese, Korean',
    debianPackage: 'fonts-noto-cjk',
  },
  { family: 'Noto Color Emoji', scripts: 'emoji', debianPackage: 'fonts-noto-color-emoji' },
];

/** The CSS font stack: the Noto fonts, then whatever the system has. */
export const FONT_STACK = [...REPORT_FONTS.map(({ family }) => `"${family}"`), 'sans-serif'].join(
  ', ',
);

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
 * The file of `family`'s regular face, as fontconfig resolves it, or undefined when the family is
 * not installed (fc-match answers its nearest font instead) or its file is a collection.
 */
export async function regularFontFile(family: string): Promise<string | undefined> {
  const { stdout } = await run(
    'fc-match',
    ['--format', '%{family}\n%{file}', `${family}:style=Regular`],
    { timeout: 10_000 },
  );
  const [families = '', file = ''] = stdout.split('\n');
  const matches = families.split(',').some((name) => name.trim() === family);
  return matches && /\.(ttf|otf)$/i.test(file) ? file : undefined;
}
