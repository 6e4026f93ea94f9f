import { formatMinorUnits, lineTotal, MONEY_PATTERN, toMinorUnits } from './money';

describe('money', () => {
  it('accepts as a price only plain decimals below 10^12 with at most two decimals', () => {
    for (const good of ['0', '0.5', '12.50', '999999999999.99'])
      expect(MONEY_PATTERN.test(good)).toBe(true);
    for (const bad of ['01.00', '1.234', '-1', '1e3', '1000000000000', ' 1'])
      expect(MONEY_PATTERN.test(bad)).toBe(false);
  });

  it('adds decimals exactly where floating point would not', () => {
    expect(formatMinorUnits(toMinorUnits('0.10') + toMinorUnits('0.20'))).toBe('0.30');
  });

  it('multiplies a unit price by a quantity without rounding', () => {
    expect(formatMinorUnits(lineTotal(3, '19.99'))).toBe('59.97');
    expect(formatMinorUnits(lineTotal(2, '12.5'))).toBe('25.00');
  });

  it('keeps totals beyond Number.MAX_SAFE_INTEGER exact', () => {
    expect(formatMinorUnits(lineTotal(1000000, '99999999999999.99'))).toBe(
      '99999999999999990000.00',
    );
  });

  it('refuses amounts with more than two decimals, signs or exponents', () => {
    for (const bad of ['1.234', '-1.00', '1e3', '', '.5', '1.']) {
      expect(() => toMinorUnits(bad)).toThrow(RangeError);
    }
  });
});
