/** Exact decimal money with two decimals: strings at the edges, bigint minor units inside. */
export const MONEY_PATTERN = /^(0|[1-9]\d{0,13})(\.\d{1,2})?$/;

export function toMinorUnits(amount: string): bigint {
  if (!MONEY_PATTERN.test(amount)) throw new RangeError(`Not a money amount: ${amount}`);
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
