/** The report's CSS, from the geometry the builder paginates with (layout.ts). */
import { FONT_STACK, fontStack } from './fonts';
import {
  CELL_PAD_X_MM,
  CELL_PAD_Y_MM,
  FONT_PT,
  HEAD_PAD_Y_MM,
  HEAD_RULE_PX,
  LINE_MM,
  ROW_RULE_PX,
} from './layout';

/**
 * Rows are lines of inline blocks, each column's width set on its page's block (--c1 to --c6).
 * Every cell keeps to one line but the customer's, which wraps between words (break-word: inside
 * a word only when it is wider than the column): order numbers and amounts print whole.
 */
export const STYLE = `
@page { size: A4; }
* { box-sizing: border-box; }
html { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
body { margin: 0; font-family: ${FONT_STACK}; font-size: ${FONT_PT}pt; line-height: ${LINE_MM}mm;
  color: #1a1a1a; }
h1 { font-size: 14pt; line-height: 6mm; margin: 0 0 2mm; font-weight: bold; }
.top { display: grid; grid-template-columns: minmax(70mm, 1fr) auto; column-gap: 6mm; margin: 0 0 4mm;
  align-items: start; font-size: 9pt; line-height: 4.2mm; }
.meta { display: grid; grid-template-columns: max-content minmax(0, 1fr); gap: 0.8mm 5mm; margin: 0; }
.meta dt { color: #555; }
.meta dd { margin: 0; min-width: 0; overflow-wrap: break-word; }
.summary { border: 1px solid #c8ccd2; background: #f4f6f8; padding: 2mm 3mm; }
.summary h2 { font-size: 9pt; line-height: 4.2mm; margin: 0 0 1mm; }
.summary dl { display: grid; grid-auto-flow: column; column-gap: 6mm; margin: 0; }
.summary dl > div { display: flex; justify-content: space-between; gap: 4mm; white-space: nowrap; }
.summary dt { color: #555; }
.summary dd { margin: 0; font-variant-numeric: tabular-nums; }
.orders { break-inside: avoid; }
.orders + .orders { break-before: page; }
.orders .row { white-space: nowrap; border-bottom: ${ROW_RULE_PX}px solid #dde1e6; }
.orders .row:nth-child(even) { background: #f8f9fa; }
.orders .row > span { display: inline-block; vertical-align: top; white-space: nowrap;
  padding: ${CELL_PAD_Y_MM}mm ${CELL_PAD_X_MM}mm; }
.orders .row.head { background: #e8ebef; font-weight: bold; border-bottom: ${HEAD_RULE_PX}px solid #9aa3ad; }
.orders .row.head > span { white-space: normal; padding: ${HEAD_PAD_Y_MM}mm ${CELL_PAD_X_MM}mm; }
.orders .row > .who { white-space: normal; overflow-wrap: break-word; }
.orders .num { text-align: right; font-variant-numeric: tabular-nums; }
.orders .row > :nth-child(1) { width: var(--c1); } .orders .row > :nth-child(2) { width: var(--c2); }
.orders .row > :nth-child(3) { width: var(--c3); } .orders .row > :nth-child(4) { width: var(--c4); }
.orders .row > :nth-child(5) { width: var(--c5); } .orders .row > :nth-child(6) { width: var(--c6); }
/* A name's language (<bdi lang>) puts its own CJK forms first. */
:lang(ja) { font-family: ${fontStack('ja')}; } :lang(zh) { font-family: ${fontStack('zh')}; }
:lang(ko) { font-family: ${fontStack('ko')}; }
.empty { padding: 8mm 0; text-align: center; font-size: 11pt; color: #555; border: 1px dashed #c8ccd2; }
`.replace(/\n\s*/g, ' ');
