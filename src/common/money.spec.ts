import {
  currencyDigits,
  displayDecimal,
  displayMoney,
  formatDecimal,
  formatMinorUnits,
  lineTotal,
  maxTotal,
  MONEY_PATTERN,
  parseDecimal,
  storedAmount,
  toMinorUnits,
} from './money';

describe('money', () => {
  it('accepts as a price only plain decimals below 10^12 with at most four decimals (its currency’s own are checked apart)', () => {
    for (const good of ['0', '0.5', '12.50', '1.125', '0.0001', '999999999999.99'])
      expect(MONEY_PATTERN.test(good)).toBe(true);
    for (const bad of ['01.00', '1.23456', '-1', '1e3', '1000000000000', ' 1'])
      expect(MONEY_PATTERN.test(bad)).toBe(false);
  });

  it('answers stored totals with their currency’s decimals, and exact older ones with what they need', () => {
    expect(storedAmount('2500.0000', 'JPY')).toBe('2500');
    expect(storedAmount('25.0000', 'EUR')).toBe('25.00');
    expect(storedAmount('3.3750', 'KWD')).toBe('3.375');
    expect(storedAmount('12.5000', 'JPY')).toBe('12.5'); // accepted before yen had no decimals
    expect(storedAmount('0.0000', 'EUR')).toBe('0.00');
  });

  it('bounds a total at 16 digits before the point, in every currency', () => {
    expect(formatMinorUnits(maxTotal('EUR'), 'EUR')).toBe('9999999999999999.99');
    expect(formatMinorUnits(maxTotal('JPY'), 'JPY')).toBe('9999999999999999');
    expect(formatMinorUnits(maxTotal('KWD'), 'KWD')).toBe('9999999999999999.999');
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

describe('money in each currency', () => {
  it('knows each currency’s ISO 4217 exponent as Intl does: JPY 0, EUR 2, KWD 3', () => {
    expect(currencyDigits('JPY')).toBe(0);
    expect(currencyDigits('KRW')).toBe(0);
    expect(currencyDigits('EUR')).toBe(2);
    expect(currencyDigits('USD')).toBe(2);
    expect(currencyDigits('KWD')).toBe(3);
    expect(currencyDigits('BHD')).toBe(3);
  });

  it('gives a well-formed code Intl does not know two decimals, and refuses a malformed one', () => {
    expect(currencyDigits('XYZ')).toBe(2);
    expect(() => currencyDigits('EURO')).toThrow(RangeError);
  });

  it('reads an amount into the currency’s minor units', () => {
    expect(toMinorUnits('2500', 'JPY')).toBe(2500n);
    expect(toMinorUnits('25', 'EUR')).toBe(2500n);
    expect(toMinorUnits('12.5', 'EUR')).toBe(1250n);
    expect(toMinorUnits('3.375', 'KWD')).toBe(3375n);
    expect(toMinorUnits('1.1', 'KWD')).toBe(1100n);
    expect(toMinorUnits('0', 'KWD')).toBe(0n);
  });

  it('refuses more decimals than the currency has, naming the currency', () => {
    expect(() => toMinorUnits('12.50', 'JPY')).toThrow('Not a money amount in JPY');
    expect(() => toMinorUnits('2500.0', 'JPY')).toThrow(RangeError);
    expect(() => toMinorUnits('1.125', 'EUR')).toThrow(RangeError);
    expect(() => toMinorUnits('1.1250', 'KWD')).toThrow(RangeError);
    for (const bad of ['-1', '1e3', '', '.5', '1.', ' 1'])
      expect(() => toMinorUnits(bad, 'KWD')).toThrow(RangeError);
  });

  it('writes minor units back as the API string, with every decimal of the currency', () => {
    expect(formatMinorUnits(2500n, 'JPY')).toBe('2500');
    expect(formatMinorUnits(2500n, 'EUR')).toBe('25.00');
    expect(formatMinorUnits(5n, 'EUR')).toBe('0.05');
    expect(formatMinorUnits(3375n, 'KWD')).toBe('3.375');
    expect(formatMinorUnits(7n, 'KWD')).toBe('0.007');
    expect(formatMinorUnits(-1250n, 'EUR')).toBe('-12.50');
  });

  it('round-trips every amount exactly', () => {
    for (const [amount, currency] of [
      ['2500', 'JPY'],
      ['0.01', 'USD'],
      ['123456789012345678.999', 'KWD'],
    ]) {
      expect(formatMinorUnits(toMinorUnits(amount, currency), currency)).toBe(amount);
    }
  });

  it('displays amounts with grouped thousands and the currency’s digits', () => {
    expect(displayMoney(2500n, 'JPY')).toBe('2,500 JPY');
    expect(displayMoney(3375n, 'KWD')).toBe('3.375 KWD');
    expect(displayMoney(123456750n, 'EUR')).toBe('1,234,567.50 EUR');
    expect(displayMoney(0n, 'EUR')).toBe('0.00 EUR');
    expect(displayMoney(999n, 'JPY')).toBe('999 JPY');
    expect(displayMoney(10n ** 20n, 'USD')).toBe('1,000,000,000,000,000,000.00 USD');
    expect(displayMoney(-123456n, 'EUR')).toBe('-1,234.56 EUR');
  });

  it('multiplies a unit price in the currency’s units', () => {
    expect(formatMinorUnits(lineTotal(2, '1250', 'JPY'), 'JPY')).toBe('2500');
    expect(formatMinorUnits(lineTotal(3, '1.125', 'KWD'), 'KWD')).toBe('3.375');
    expect(() => lineTotal(2, '12.50', 'JPY')).toThrow(RangeError);
  });

  it('reads and writes decimals at any number of digits, for amounts not in their currency’s', () => {
    expect(parseDecimal('12.5', 2)).toBe(1250n);
    expect(parseDecimal('12.505', 2)).toBeUndefined();
    expect(parseDecimal('-1', 2)).toBeUndefined();
    expect(formatDecimal(1250n, 2)).toBe('12.50');
    expect(formatDecimal(1250n, 0)).toBe('1250');
    expect(displayDecimal(251250n, 2, 'JPY')).toBe('2,512.50 JPY');
  });
});
