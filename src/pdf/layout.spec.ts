import { PDF_OPTIONS } from './pdf-renderer.service';
import {
  blockHeight,
  cellWidth,
  estimateLines,
  PAGE_HEIGHT_MM,
  PAGE_WIDTH_MM,
  rowHeight,
  textWidth,
} from './layout';

const mm = (length: string) => Number(/^(\d+(?:\.\d+)?)mm$/.exec(length)![1]);

describe('report layout', () => {
  it('paginates for the page the renderer prints: A4 less its margins', () => {
    const { top, right, bottom, left } = PDF_OPTIONS.margin;
    expect(PAGE_WIDTH_MM).toBe(210 - mm(left) - mm(right));
    expect(PAGE_HEIGHT_MM).toBe(297 - mm(top) - mm(bottom));
  });

  it('fits at least 40 one-line rows on a page, the first one included', () => {
    expect(Math.floor(blockHeight(true) / rowHeight(1))).toBeGreaterThanOrEqual(40);
    expect(Math.floor(blockHeight(false) / rowHeight(1))).toBeGreaterThan(50);
  });

  it('measures ASCII with Noto Sans metrics: digits alike, W wider than i', () => {
    expect(textWidth('0000')).toBeCloseTo(textWidth('9999'));
    expect(textWidth('W')).toBeGreaterThan(3 * textWidth('i'));
    expect(textWidth('ORD', true)).toBeGreaterThan(textWidth('ORD'));
    // 8 pt: an em is 2.82 mm, a digit 0.572 em, 3 % of margin.
    expect(textWidth('0')).toBeCloseTo(0.572 * 2.822 * 1.03, 2);
  });

  it('counts a CJK character an em, an emoji wider, a combining mark nothing', () => {
    expect(textWidth('山')).toBeCloseTo(2.822 * 1.03, 2);
    expect(textWidth('😀')).toBeGreaterThan(textWidth('山'));
    expect(textWidth('e\u0301')).toBeCloseTo(textWidth('e'));
  });

  it('gives an order number like the seed’s a cell of about 32 mm', () => {
    const width = cellWidth('ORD-4B6D6D-000032');
    expect(width).toBeGreaterThan(29);
    expect(width).toBeLessThan(34);
  });

  it('wraps between words, never inside one that fits a line', () => {
    const width = cellWidth('Ada Lovelace');
    expect(estimateLines('Ada Lovelace', width)).toBe(1);
    expect(estimateLines('Ada Lovelace Ada', width)).toBe(2);
    expect(estimateLines('Ada Lovelace Ada Lovelace', width)).toBe(2);
    expect(estimateLines('', width)).toBe(1);
  });

  it('breaks a word wider than the line a line at a time', () => {
    const width = cellWidth('N'.repeat(10));
    expect(estimateLines('N'.repeat(10), width)).toBe(1);
    expect(estimateLines('N'.repeat(25), width)).toBe(3);
    expect(estimateLines(`Jo ${'N'.repeat(25)}`, width)).toBe(4);
  });

  it('wraps CJK text between any two characters', () => {
    const width = cellWidth('山'.repeat(10));
    expect(estimateLines('山'.repeat(10), width)).toBe(1);
    expect(estimateLines('山'.repeat(11), width)).toBe(2);
    expect(estimateLines(`Sakura ${'山'.repeat(10)}`, width)).toBe(2);
  });
});
