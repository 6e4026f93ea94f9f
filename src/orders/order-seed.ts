import { randomBytes, randomInt } from 'node:crypto';
import { formatMinorUnits, lineTotal } from '../common/money';
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
const CURRENCIES = ['EUR', 'EUR', 'EUR', 'EUR', 'USD', 'USD', 'GBP'];

const pick = <T>(values: readonly T[]): T => values[randomInt(values.length)];

/** Realistic orders spread over `[startDate, endDate)`, numbered uniquely for this run. */
export function generateOrders(count: number, startDate: string, endDate: string): NewOrder[] {
  const { from, to } = periodBounds(startDate, endDate);
  const span = to.getTime() - from.getTime();
  const run = randomBytes(3).toString('hex').toUpperCase();
  return Array.from({ length: count }, (_, index) => {
    const first = pick(FIRST);
    const last = pick(LAST);
    const items = Array.from({ length: 1 + randomInt(4) }, () => {
      const [sku, name, unit_price] = pick(PRODUCTS);
      return { sku, name, quantity: 1 + randomInt(3), unit_price };
    });
    return {
      number: `ORD-${run}-${String(index + 1).padStart(6, '0')}`,
      placedAt: new Date(from.getTime() + Math.floor(Math.random() * span)),
      status: pick(STATUSES),
      currency: pick(CURRENCIES),
      customerName: `${first} ${last}`,
      customerEmail: `${first}.${last}@example.com`.toLowerCase().replace(/\s+/g, ''),
      items,
      itemCount: items.reduce((sum, item) => sum + item.quantity, 0),
      total: formatMinorUnits(
        items.reduce((sum, i) => sum + lineTotal(i.quantity, i.unit_price), 0n),
      ),
    };
  });
}
