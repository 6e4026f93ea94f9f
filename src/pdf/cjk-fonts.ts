/**
 * Chinese, Japanese and Korean names, printed from subsets each document carries.
 *
 * Measured (Chromium's processes, a print of 50 orders): its cost of printing a font grows with the
 * font's file, not with the glyphs printed. One CJK name from Noto Sans CJK (a 19 MB collection of
 * CFF outlines, embedded as Type 3 fonts) cost ~25,000 page faults and ~100 ms of CPU more than a
 * Latin report (30,500 faults, 190 ms); from an installed TrueType face (4-6 MB) 30-50 ms more. A
 * subset of the document's own characters, a few KB in its HTML as a data: URL, costs ~1,000
 * faults (5,900, 110 ms) and prints as a CID TrueType font, as the Latin names do.
 *
 * The faces are read once per process; each document's subsets are cut as its HTML is written.
 */
import { readFile } from 'node:fs/promises';
import { Logger } from '@nestjs/common';
import { TrueTypeFont } from './font-subset';
import { CJK_FACES, CjkFace, CjkLanguage, cjkOrder, regularFontFace } from './fonts';

/** What the Noto fonts ahead of the CJK faces print: never looked for in the CJK faces. */
const NOTO_SCRIPTS =
  /[\s\p{Script=Latin}\p{Script=Greek}\p{Script=Cyrillic}\p{Script=Arabic}\p{Script=Hebrew}\p{Script=Devanagari}\p{Script=Thai}\p{Script=Inherited}]/u;
const KANA = /[\p{Script=Hiragana}\p{Script=Katakana}]/u;
const HANGUL = /\p{Script=Hangul}/u;
const HAN = /\p{Script=Han}/u;
const BOPOMOFO = /\p{Script=Bopomofo}/u;

/** The characters a document prints beyond what the Noto fonts cover, by the language of their name. */
export class CjkText {
  /** '' for the names of no known language. */
  readonly chars = new Map<CjkLanguage | '', Set<string>>();

  /** Adds the characters of a name that may need a CJK face. */
  add(text: string, language?: CjkLanguage): this {
    for (const char of text) {
      if (char.charCodeAt(0) < 0x80 || NOTO_SCRIPTS.test(char)) continue;
      const key = language ?? '';
      let set = this.chars.get(key);
      if (!set) this.chars.set(key, (set = new Set()));
      set.add(char);
    }
    return this;
  }

  addAll(other: CjkText): this {
    for (const [language, chars] of other.chars) {
      const set = this.chars.get(language);
      if (set) for (const char of chars) set.add(char);
      else this.chars.set(language, new Set(chars));
    }
    return this;
  }

  get empty(): boolean {
    return this.chars.size === 0;
  }
}

/**
 * The language of a name, where its script tells: kana is Japanese, Hangul Korean, Bopomofo
 * Chinese. Ideographs alone say nothing (山田 is Japanese, 王 Chinese).
 */
export function scriptLanguage(text: string): CjkLanguage | undefined {
  if (KANA.test(text)) return 'ja';
  if (HANGUL.test(text)) return 'ko';
  if (BOPOMOFO.test(text)) return 'zh';
  return undefined;
}

interface LoadedFace {
  face: CjkFace;
  font: TrueTypeFont;
}

/** The installed CJK faces, and the subsets cut from them. */
export class CjkFonts {
  /** No face loaded: names keep the languages their scripts tell, documents carry no subset. */
  static readonly none = new CjkFonts([]);

  constructor(private readonly faces: readonly LoadedFace[]) {}

  get families(): string[] {
    return this.faces.map(({ face }) => face.family);
  }

  /**
   * The language of a name: its script's (scriptLanguage), else Chinese for ideographs the
   * Japanese face lacks and the Chinese face has (simplified ones, such as 张), so that the whole
   * name takes one face's forms.
   */
  language(text: string): CjkLanguage | undefined {
    const language = scriptLanguage(text);
    if (language || !HAN.test(text)) return language;
    const japanese = this.faces.find(({ face }) => face.language === 'ja')?.font;
    const chinese = this.faces.find(({ face }) => face.language === 'zh')?.font;
    if (!japanese || !chinese) return undefined;
    for (const char of text) {
      if (HAN.test(char) && !japanese.has(char) && chinese.has(char)) return 'zh';
    }
    return undefined;
  }

  /**
   * The @font-face rules of a document: for each face, a subset of the characters its names take
   * from it, as Chromium picks them (the first face in the name's order that has the character).
   * Characters no face has are left to Noto Sans CJK, installed.
   */
  fontFaces(text: CjkText): string {
    if (!this.faces.length || text.empty) return '';
    const wanted = new Map<LoadedFace, Set<string>>();
    for (const [language, chars] of text.chars) {
      const order = cjkOrder(language || undefined)
        .map((face) => this.faces.find((loaded) => loaded.face === face))
        .filter((loaded): loaded is LoadedFace => loaded !== undefined);
      for (const char of chars) {
        const loaded = order.find(({ font }) => font.has(char));
        if (!loaded) continue;
        let set = wanted.get(loaded);
        if (!set) wanted.set(loaded, (set = new Set()));
        set.add(char);
      }
    }
    return this.faces
      .filter((loaded) => wanted.has(loaded))
      .map(
        (loaded) =>
          `@font-face{font-family:"${loaded.face.subsetFamily}";src:url(data:font/ttf;base64,` +
          `${loaded.font.subset(wanted.get(loaded)!).toString('base64')})}`,
      )
      .join('');
  }
}

async function load(): Promise<CjkFonts> {
  const logger = new Logger('CjkFonts');
  const faces: LoadedFace[] = [];
  for (const face of CJK_FACES) {
    try {
      const found = await regularFontFace(face.family);
      if (!found) continue; // warnOfMissingFonts names it
      faces.push({ face, font: new TrueTypeFont(await readFile(found.file), found.index) });
    } catch (error) {
      logger.warn(
        `Could not read ${face.family}: the names it prints come from Noto Sans CJK, slower ` +
          `(${error instanceof Error ? error.message : String(error)})`,
      );
    }
  }
  return new CjkFonts(faces);
}

let loading: Promise<CjkFonts> | undefined;

/** The installed faces, read on first use, once per process. */
export function cjkFonts(): Promise<CjkFonts> {
  loading ??= load();
  return loading;
}
