/**
 * Like with like: fixed orders (the same every run, Latin-only or in mixed scripts, as the render
 * step's), and the HTML the worker builds from a report's orders, for bare Puppeteer to print.
 */
import { DataSource } from 'typeorm';
import { ClientsRepository } from '../src/clients/clients.repository';
import { ClientsService } from '../src/clients/clients.service';
import { periodBounds } from '../src/common/period';
import { renderConfig } from '../src/config/configuration';
import { NewOrder } from '../src/orders/order.entity';
import { OrderStatus } from '../src/orders/order-status';
import { OrdersRepository, PeriodOrder } from '../src/orders/orders.repository';
import { cjkFonts } from '../src/pdf/cjk-fonts';
import { DocumentBuilder } from '../src/pdf/template';
import { Scripts, syntheticRows } from './render';

/** The client names the render step prints its reports for. */
export const CLIENT_NAMES: Record<Scripts, string> = {
  latin: 'Acme Retail Europe GmbH',
  mixed: 'Sakura Shop 株式会社',
  cjk: '桜商店 株式会社',
};

/**
 * `count` orders over `[startDate, endDate)`, the same every run: the render step's rows
 * (bench/render.ts: syntheticRows, every other name in another script when mixed), placed in the
 * period in the same order. `seed` varies the rows, and numbers them apart (a client's order
 * numbers are unique).
 */
export function fixedOrders(
  count: number,
  startDate: string,
  endDate: string,
  scripts: Scripts,
  seed = 42,
): NewOrder[] {
  const rows = syntheticRows(count, seed, scripts);
  const { from, to } = periodBounds(startDate, endDate);
  const first = rows[0]?.placedAt.getTime() ?? 0;
  const span = 31 * 86_400_000; // syntheticRows: October 2021
  const prefix = `ORD-${seed.toString(16).toUpperCase().padStart(6, '0').slice(-6)}-`;
  return rows.map((row, i) => ({
    ...row,
    number: `${prefix}${String(i + 1).padStart(6, '0')}`,
    placedAt: new Date(
      from.getTime() +
        Math.floor(((row.placedAt.getTime() - first) / span) * (to.getTime() - from.getTime())),
    ),
    status: row.status as OrderStatus,
    customerEmail: `customer${i + 1}@example.com`,
    items: [{ sku: 'MUG-01', name: 'Ceramic mug', quantity: row.itemCount, unit_price: row.total }],
  }));
}

/** A client named as the render step's reports are, holding `orders` (its id and API key). */
export async function clientWithOrders(
  dataSource: DataSource,
  scripts: Scripts,
  orders: NewOrder[],
) {
  const client = await ClientsService.of(dataSource).create(CLIENT_NAMES[scripts]);
  await new OrdersRepository(dataSource).insertMany(client.id, orders);
  return client;
}

/**
 * The parts the worker prints for a report, in print order (render-report.ts and
 * report-orders-reader.ts: the same header, the same rows in the same order, the same layout
 * settings; only the "generated" time differs): what bare Puppeteer is given to print.
 */
export async function workerDocument(dataSource: DataSource, reportId: string): Promise<string[]> {
  const [report] = await dataSource.query<
    { clientId: string; startDate: string; endDate: string; timeZone: string }[]
  >(
    `SELECT client_id AS "clientId", to_char(start_date, 'YYYY-MM-DD') AS "startDate",
            to_char(end_date, 'YYYY-MM-DD') AS "endDate", time_zone AS "timeZone"
       FROM reports WHERE id = $1`,
    [reportId],
  );
  if (!report) throw new Error(`No report ${reportId}`);
  const orders = new OrdersRepository(dataSource);
  const period = periodBounds(report.startDate, report.endDate, report.timeZone);
  const rows: PeriodOrder[] = [];
  for (;;) {
    const batch = await orders.readPeriod(report.clientId, period, 2000, rows.at(-1));
    rows.push(...batch);
    if (batch.length < 2000) break;
  }
  const clientName = await new ClientsRepository(dataSource).name(report.clientId);
  const builder = DocumentBuilder.forRows(
    {
      clientName: clientName ?? '',
      startDate: report.startDate,
      endDate: report.endDate,
      timeZone: report.timeZone,
    },
    rows.length,
    renderConfig(),
    await cjkFonts(),
  );
  builder.addRows(rows);
  return [...builder.takeReady(), ...builder.finish()].map((part) => part.html);
}
