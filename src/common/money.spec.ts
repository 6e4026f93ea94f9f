import { formatMinorUnits, lineTotal, toMinorUnits } from './money';

describe('money', () => {
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
    for (const bad of ['1.234', '-1.00', '1e3', '01.00', '', '.5']) {
      expect(() => toMinorUnits(bad)).toThrow(RangeError);
    }
  });
});
