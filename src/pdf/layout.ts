/**
 * The table's geometry, in millimetres, and how wide text prints: what lets the builder size the
 * columns from their content and fill each A4 page with rows before Chromium lays them out.
 * Estimates err towards wider text: a block that came out taller than its page would push every
 * page after it out of step.
 */

/** A4 less the margins of PDF_OPTIONS (pdf-renderer.service.ts). */
export const PAGE_WIDTH_MM = 210 - 12 - 12;
export const PAGE_HEIGHT_MM = 297 - 14 - 16;

export const FONT_PT = 8;
const EM_MM = (FONT_PT * 25.4) / 72;
export const LINE_MM = 3.5;
export const CELL_PAD_X_MM = 1.2;
export const CELL_PAD_Y_MM = 0.6;
export const HEAD_PAD_Y_MM = 1;
/** Rules are whole CSS pixels: Chromium rounds thinner borders up to one. */
const PX_MM = 25.4 / 96;
export const ROW_RULE_PX = 1;
export const HEAD_RULE_PX = 2;
/** Left unused at the foot of every page: rounding in Chromium's layout. */
const SLACK_MM = 1.5;
/**
 * What the title, the details and the summary take on the first page, the summary holding up to
 * SUMMARY_LINES lines a column (style.ts).
 */
export const FIRST_PAGE_HEADER_MM = 44;
export const SUMMARY_LINES = 5;

export const rowHeight = (lines: number): number =>
  lines * LINE_MM + 2 * CELL_PAD_Y_MM + ROW_RULE_PX * PX_MM;
export const headHeight = (lines: number): number =>
  lines * LINE_MM + 2 * HEAD_PAD_Y_MM + HEAD_RULE_PX * PX_MM;
/** The height a block of orders may take: a page, less the first page's header on page 1. */
export const blockHeight = (firstPage: boolean): number =>
  PAGE_HEIGHT_MM - SLACK_MM - (firstPage ? FIRST_PAGE_HEADER_MM : 0);

/**
 * Advance widths of Noto Sans, the template's first font, for U+0020 to U+007E, in thousandths of
 * an em (read from NotoSans-Regular.ttf and NotoSans-Bold.ttf with fontkit).
 */
// prettier-ignore
const ASCII_REGULAR = [
  260, 269, 408, 646, 572, 831, 732, 225, 300, 300, 551, 572, 268, 322, 268, 372, 572, 572, 572, 572,
  572, 572, 572, 572, 572, 572, 268, 268, 572, 572, 572, 434, 899, 639, 650, 632, 730, 556, 519, 728,
  741, 339, 273, 619, 524, 907, 760, 781, 605, 781, 622, 549, 556, 731, 600, 930, 586, 566, 572, 329,
  372, 329, 572, 444, 281, 561, 615, 480, 615, 564, 344, 615, 618, 258, 258, 534, 258, 935, 618, 605,
  615, 615, 413, 479, 361, 618, 508, 786, 529, 510, 470, 380, 551, 380, 572,
];
// prettier-ignore
const ASCII_BOLD = [
  260, 286, 472, 646, 572, 901, 750, 266, 339, 339, 545, 572, 285, 322, 285, 413, 572, 572, 572, 572,
  572, 572, 572, 572, 572, 572, 285, 285, 572, 572, 572, 477, 897, 690, 672, 637, 740, 560, 549, 724,
  765, 389, 331, 664, 565, 943, 813, 796, 628, 796, 660, 551, 579, 756, 650, 967, 667, 624, 579, 331,
  413, 331, 572, 411, 362, 604, 633, 514, 633, 591, 387, 633, 657, 305, 305, 620, 305, 982, 657, 619,
  633, 633, 454, 497, 434, 657, 569, 856, 578, 569, 488, 394, 551, 394, 572,
];

/** Characters that may break a line on either side, as CJK text does: ideographs, kana, Hangul. */
const WIDE =
  /[\u1100-\u115F\u2E80-\u303E\u3041-\u33FF\u3400-\u4DBF\u4E00-\u9FFF\uA960-\uA97F\uAC00-\uD7FF\uF900-\uFAFF\uFE30-\uFE4F\uFF00-\uFF60\uFFE0-\uFFE6\u{20000}-\u{3FFFD}]/u;
const EMOJI = /\p{Extended_Pictographic}/u;
/** No advance of their own: marks that combine, joiners, direction marks, variation selectors. */
// eslint-disable-next-line no-misleading-character-class -- tested on one code point at a time
const ZERO_WIDTH = /[\p{Mn}\p{Me}\u200B-\u200F\u202A-\u202E\u2060-\u2064\uFE00-\uFE0F]/u;

/** A character's advance in em, beyond ASCII: the widest of its kind. */
function otherWidth(char: string, bold: boolean): number {
  if (ZERO_WIDTH.test(char)) return 0;
  if (WIDE.test(char)) return 1;
  if (EMOJI.test(char)) return 1.3;
  // Latin with accents, Greek, Cyrillic (up to 0.93 em: Ш, Ю), Arabic, Hebrew, Indic, Thai.
  return bold ? 0.8 : 0.75;
}

/** Printed width of one line of text at the table's size, in mm, a few percent generous. */
export function textWidth(text: string, bold = false): number {
  const ascii = bold ? ASCII_BOLD : ASCII_REGULAR;
  let em = 0;
  // Code units, not code points: nearly every character is ASCII, read from the table.
  for (let i = 0; i < text.length; i += 1) {
    const code = text.charCodeAt(i);
    if (code >= 0x20 && code < 0x7f) {
      em += ascii[code - 0x20] / 1000;
    } else {
      const char = String.fromCodePoint(text.codePointAt(i)!);
      em += otherWidth(char, bold);
      i += char.length - 1;
    }
  }
  return em * EM_MM * 1.03;
}

/** The width a cell needs to hold `text` on one line. */
export const cellWidth = (text: string, bold = false): number =>
  textWidth(text, bold) + 2 * CELL_PAD_X_MM;

const PIECES = new RegExp(`${WIDE.source}|(?:(?!${WIDE.source})\\S)+`, 'gu');

/**
 * Lines `text` takes in a cell `width` mm wide, wrapped as CSS does with `overflow-wrap:
 * break-word`: between words, around CJK characters, and inside a word only when it is wider than
 * a line by itself.
 */
export function estimateLines(text: string, width: number, bold = false): number {
  const room = Math.max(1, width - 2 * CELL_PAD_X_MM);
  // Most names fit one line: no need to find where they would break.
  if (textWidth(text, bold) <= room) return 1;
  const space = textWidth(' ', bold);
  let lines = 1;
  let used = 0;
  for (const word of text.split(/\s+/)) {
    let first = true;
    for (const piece of word.match(PIECES) ?? []) {
      let width = textWidth(piece, bold);
      const gap = used > 0 && first ? space : 0;
      first = false;
      // (With a hair of tolerance: widths summed piece by piece round differently.)
      if (used + gap + width <= room + 1e-9) {
        used += gap + width;
        continue;
      }
      if (used > 0) lines += 1;
      // A word wider than the line breaks where it must, a line at a time.
      while (width > room + 1e-9) {
        lines += 1;
        width -= room;
      }
      used = width;
    }
  }
  return lines;
}
