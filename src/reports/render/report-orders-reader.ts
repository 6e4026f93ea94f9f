import { Injectable } from '@nestjs/common';
import { periodBounds } from '../../common/period';
import { OrdersRepository, Period, PeriodOrder } from '../../orders/orders.repository';
import { ReportsRepository } from '../store/reports.repository';
import { DocumentBuilder, DocumentPart } from '../../pdf/template';
import { ClaimedReport } from '../store/report.entity';

/** Orders read per query: keyset pages keep a large period out of memory as rows. */
const BATCH_SIZE = 2000;

/** A report's orders, counted, ready to be read into parts as they print. */
export interface ReportOrders {
  count: number;
  /** Fills the builder batch by batch, and yields each part as soon as it is full. */
  parts(builder: DocumentBuilder): AsyncGenerator<DocumentPart>;
}

/**
 * Reads a report's orders in keyset batches while it prints, so that reading and printing overlap
 * and a long report is never held whole, and records the report's progress as it goes (1 to 90:
 * what is left after the last row is printing the last parts and joining them).
 */
@Injectable()
export class ReportOrdersReader {
  constructor(
    private readonly orders: OrdersRepository,
    private readonly reports: ReportsRepository,
  ) {}

  async open(report: ClaimedReport): Promise<ReportOrders> {
    const period = periodBounds(report.startDate, report.endDate, report.timeZone);
    const first = await this.orders.readPeriod(report.clientId, period, BATCH_SIZE);
    // A period that fits in one batch is counted by reading it: one query fewer per small report.
    const count =
      first.length < BATCH_SIZE
        ? first.length
        : await this.orders.countPeriod(report.clientId, period);
    return { count, parts: (builder) => this.parts(report, period, count, first, builder) };
  }

  private async *parts(
    report: ClaimedReport,
    period: Period,
    count: number,
    first: PeriodOrder[],
    builder: DocumentBuilder,
  ): AsyncGenerator<DocumentPart> {
    let rows = first;
    let progress = 1;
    builder.addRows(rows);
    yield* builder.takeReady();
    if (rows.length < BATCH_SIZE) return yield* builder.finish();
    while (rows.length === BATCH_SIZE) {
      const next = Math.floor((90 * builder.orderCount) / Math.max(1, count));
      if (next >= progress + 10) {
        progress = next;
        await this.reports.setProgress(report.id, progress);
      }
      rows = await this.orders.readPeriod(report.clientId, period, BATCH_SIZE, rows.at(-1));
      builder.addRows(rows);
      yield* builder.takeReady();
    }
    // (A report read in one batch goes from 1 to 100 at once.)
    if (progress < 90) await this.reports.setProgress(report.id, 90);
    yield* builder.finish();
  }
}
