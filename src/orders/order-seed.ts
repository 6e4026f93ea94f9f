import { randomBytes, randomInt } from 'node:crypto';
import { currencyDigits, formatMinorUnits, lineTotal } from '../common/money';
import { periodBounds } from '../common/period';
import { NewOrder } from './order.entity';
import { OrderStatus } from './order-status';

const FIRST = (
  'Ada Alan Grace Linus Margaret Edsger Barbara Donald Frances Ken ' +
  'Radia Tim Hedy John Sophie Dennis Katherine Niklaus Shafi Guido'
).split(' ');
const LAST = (
  'Lovelace,Turing,Hopper,Torvalds,Hamilton,Dijkstra,Liskov,Knuth,Allen,Thompson,Perlman,' +
  'Berners-Lee,Lamarr,McCarthy,Wilson,Ritchie,Johnson,Wirth,Goldwasser,van Rossum'
).split(',');
/** Customers from elsewhere, one order in ten: names in their own scripts, emails in ASCII. */
const INTERNATIONAL: Array<[string, string]> = [
  ['山田 太郎', 'taro.yamada'],
  ['王小明', 'xiaoming.wang'],
  ['김민준', 'minjun.kim'],
  ['राहुल शर्मा', 'rahul.sharma'],
  ['สมชาย ใจดี', 'somchai.jaidee'],
  ['Γιώργος Παπαδόπουλος', 'giorgos.papadopoulos'],
  ['Иван Петров', 'ivan.petrov'],
  ['محمد علي', 'mohammed.ali'],
  ['דוד כהן', 'david.cohen'],
  ['Zoë Müller-Lüdenscheidt', 'zoe.mueller'],
];
/** SKU, name, and price in euros; in yen and dinars it is converted to their own units. */
const PRODUCTS: Array<[string, string, string]> = [
  ['MUG-01', 'Ceramic mug', '12.50'],
  ['TEE-02', 'Organic T-shirt', '24.90'],
  ['CAP-03', 'Baseball cap', '18.00'],
  ['BAG-04', 'Canvas tote bag', '15.75'],
  ['NB-05', 'Dotted notebook', '9.99'],
  ['PEN-06', 'Fountain pen', '42.00'],
  ['HD-07', 'Hoodie', '54.95'],
  ['STK-08', 'Sticker pack', '3.50'],
  ['BTL-09', 'Steel water bottle', '29.00'],
  ['LMP-10', 'Desk lamp', '79.90'],
  ['SCK-11', 'Wool socks', '11.20'],
  ['UMB-12', 'Umbrella', '34.99'],
];
/** Mostly paid and shipped, as in a real shop. */
const STATUSES: OrderStatus[] = [
  ...Array<OrderStatus>(4).fill(OrderStatus.Paid),
  ...Array<OrderStatus>(3).fill(OrderStatus.Shipped),
  ...Array<OrderStatus>(3).fill(OrderStatus.Delivered),
  OrderStatus.Pending,
  OrderStatus.Canceled,
  OrderStatus.Refunded,
];
const CURRENCIES = ['EUR', 'EUR', 'EUR', 'EUR', 'USD', 'USD', 'GBP', 'JPY', 'KWD'];
/** About what a euro buys, in the currencies whose units are not hundredths. */
const RATES: Record<string, number> = { JPY: 160, KWD: 0.33 };

/** A euro price in `currency`, with that currency's own decimals: "12.50" EUR, "2000" JPY. */
function price(euros: string, currency: string): string {
  const rate = RATES[currency];
  if (!rate) return euros;
  const digits = currencyDigits(currency);
  const units = BigInt(Math.round(Number(euros) * rate * 10 ** digits));
  return formatMinorUnits(units, currency);
}

const pick = <T>(values: readonly T[]): T => values[randomInt(values.length)];

/** Realistic orders spread over `[startDate, endDate)`, numbered uniquely for this run. */
export function generateOrders(count: number, startDate: string, endDate: string): NewOrder[] {
  const { from, to } = periodBounds(startDate, endDate);
  const span = to.getTime() - from.getTime();
  const run = randomBytes(3).toString('hex').toUpperCase();
  return Array.from({ length: count }, (_, index) => {
    const currency = pick(CURRENCIES);
    const [first, last] = [pick(FIRST), pick(LAST)];
    const [customerName, mailbox] =
      randomInt(10) === 0
        ? pick(INTERNATIONAL)
        : [`${first} ${last}`, `${first}.${last}`.toLowerCase().replace(/\s+/g, '')];
    const items = Array.from({ length: 1 + randomInt(4) }, () => {
      const [sku, name, euros] = pick(PRODUCTS);
      return { sku, name, quantity: 1 + randomInt(3), unit_price: price(euros, currency) };
    });
    const total = items.reduce((sum, i) => sum + lineTotal(i.quantity, i.unit_price, currency), 0n);
    return {
      number: `ORD-${run}-${String(index + 1).padStart(6, '0')}`,
      placedAt: new Date(from.getTime() + Math.floor(Math.random() * span)),
      status: pick(STATUSES),
      currency,
      customerName,
      customerEmail: `${mailbox}@example.com`,
      items,
      itemCount: items.reduce((sum, item) => sum + item.quantity, 0),
      total: formatMinorUnits(total, currency),
    };
  });
}
