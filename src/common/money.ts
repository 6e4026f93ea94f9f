/**
 * Exact decimal money: strings at the edges, bigint minor units inside, never a float. Each currency
 * has its own number of minor units, its ISO 4217 exponent as `Intl` knows it (JPY 0, EUR 2, KWD 3).
 * Without a currency, amounts have two decimals: what the orders API validates and stores today.
 */

/**
 * What a client may send as a price: no sign, no exponent, below 10^12, at most four decimals (the
 * most any currency has); its own currency's decimals are checked apart (toMinorUnits).
 */
export const MONEY_PATTERN = /^(0|[1-9]\d{0,11})(\.\d{1,4})?$/;

/** How totals are stored: numeric(20,4), at most 16 digits before the point. */
const STORED_DIGITS = 4;
const MAX_WHOLE_UNITS = 10n ** 16n;

/** The largest total an order may have, in `currency`'s minor units. */
export function maxTotal(currency: string): bigint {
  return MAX_WHOLE_UNITS * 10n ** BigInt(currencyDigits(currency)) - 1n;
}

/**
 * A stored amount as the API writes it: with its currency's decimals ("2500" JPY, "25.00" EUR,
 * "3.375" KWD), or with the few more a row from before currencies had their own decimals holds
 * ("12.50" JPY): exact, never rounded.
 */
export function storedAmount(value: string, currency: string): string {
  const units = parseDecimal(value, STORED_DIGITS);
  if (units === undefined) throw new RangeError(`Not a stored amount: ${value}`);
  let digits = currencyDigits(currency);
  while (digits < STORED_DIGITS && units % 10n ** BigInt(STORED_DIGITS - digits) !== 0n)
    digits += 1;
  return formatDecimal(units / 10n ** BigInt(STORED_DIGITS - digits), digits);
}

/** Two decimals: amounts given without their currency. */
const DEFAULT_DIGITS = 2;
const digitsByCurrency = new Map<string, number>();

/**
 * How many decimals `currency` has (its ISO 4217 exponent, from the ICU data Node ships). A code
 * `Intl` does not know but that is well formed gets two, as `Intl` gives it; a malformed one throws.
 */
export function currencyDigits(currency: string): number {
  let digits = digitsByCurrency.get(currency);
  if (digits === undefined) {
    digits = new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions()
      .maximumFractionDigits!;
    digitsByCurrency.set(currency, digits);
  }
  return digits;
}

/**
 * "12.5" EUR → 1250n, "2500" JPY → 2500n, "3.375" KWD → 3375n. Refuses signs, exponents and more
 * decimals than the currency has ("12.50" JPY): such an amount has no exact value in its units.
 */
export function toMinorUnits(amount: string, currency?: string): bigint {
  const digits = currency === undefined ? DEFAULT_DIGITS : currencyDigits(currency);
  const units = parseDecimal(amount, digits);
  if (units === undefined) {
    throw new RangeError(
      `Not a money amount${currency ? ` in ${currency}` : ''} (at most ${digits} decimals): ${amount}`,
    );
  }
  return units;
}

/** Minor units as the API writes them, with every decimal of the currency: "25.00", "2500", "3.375". */
export function formatMinorUnits(minor: bigint, currency?: string): string {
  return formatDecimal(minor, currency === undefined ? DEFAULT_DIGITS : currencyDigits(currency));
}

/** For people: thousands grouped and the code after: "1,234,567.50 EUR", "2,500 JPY", "3.375 KWD". */
export function displayMoney(minor: bigint, currency: string): string {
  return displayDecimal(minor, currencyDigits(currency), currency);
}

/** An unsigned decimal string as a count of 10^-digits, if it has at most `digits` decimals. */
export function parseDecimal(amount: string, digits: number): bigint | undefined {
  const match = /^(\d+)(?:\.(\d+))?$/.exec(amount);
  if (!match || (match[2] ?? '').length > digits) return undefined;
  const [, whole, fraction = ''] = match;
  return BigInt(whole) * 10n ** BigInt(digits) + BigInt(fraction.padEnd(digits, '0') || '0');
}

/** A count of 10^-digits as a decimal string with `digits` decimals. */
export function formatDecimal(units: bigint, digits: number): string {
  const sign = units < 0n ? '-' : '';
  const abs = units < 0n ? -units : units;
  if (digits === 0) return `${sign}${abs}`;
  const scale = 10n ** BigInt(digits);
  return `${sign}${abs / scale}.${(abs % scale).toString().padStart(digits, '0')}`;
}

/** `formatDecimal` with thousands grouped and the currency after. */
export function displayDecimal(units: bigint, digits: number, currency: string): string {
  const [whole, fraction] = formatDecimal(units, digits).split('.');
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${grouped}${fraction === undefined ? '' : `.${fraction}`} ${currency}`;
}

export function lineTotal(quantity: number, unitPrice: string, currency?: string): bigint {
  return BigInt(quantity) * toMinorUnits(unitPrice, currency);
}
