/** Exact decimal money with two decimals: strings at the edges, bigint minor units inside. */

/** What a client may send as a price: no sign, no exponent, at most two decimals, below 10^12. */
export const MONEY_PATTERN = /^(0|[1-9]\d{0,11})(\.\d{1,2})?$/;

/** The largest amount a `numeric(18,2)` column holds, in minor units. */
export const MAX_STORED_MINOR_UNITS = 10n ** 18n - 1n;

export function toMinorUnits(amount: string): bigint {
  if (!/^\d+(\.\d{1,2})?$/.test(amount)) throw new RangeError(`Not a money amount: ${amount}`);
  const [whole, fraction = ''] = amount.split('.');
  return BigInt(whole) * 100n + BigInt(fraction.padEnd(2, '0'));
}

export function formatMinorUnits(minor: bigint): string {
  const sign = minor < 0n ? '-' : '';
  const abs = minor < 0n ? -minor : minor;
  return `${sign}${abs / 100n}.${(abs % 100n).toString().padStart(2, '0')}`;
}

export function lineTotal(quantity: number, unitPrice: string): bigint {
  return BigInt(quantity) * toMinorUnits(unitPrice);
}
