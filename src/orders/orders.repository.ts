import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, QueryFailedError } from 'typeorm';
import { decodeCursor, Position } from '../common/pagination';
import { NewOrder, Order } from './order.entity';

/** What a report prints of an order, with its id for the keyset. */
export interface PeriodOrder {
  id: string;
  number: string;
  placedAt: Date;
  customerName: string;
  status: string;
  itemCount: number;
  /** Exact decimal string. */
  total: string;
  currency: string;
}

export interface Period {
  from: Date;
  to: Date;
}

/** Seeded orders are written this many per statement. */
const INSERT_BATCH = 5000;
const UNIQUE_VIOLATION = '23505';

/** Every statement on `orders`. Reports read a period's orders through it. */
@Injectable()
export class OrdersRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  private get orders() {
    return this.dataSource.getRepository(Order);
  }

  /** The new order, or undefined when the client already has an order with its number. */
  async insert(clientId: string, order: NewOrder): Promise<Order | undefined> {
    try {
      return await this.orders.save(this.orders.create({ ...order, clientId }));
    } catch (error) {
      if (
        error instanceof QueryFailedError &&
        (error.driverError as { code?: string }).code === UNIQUE_VIOLATION
      ) {
        return undefined;
      }
      throw error;
    }
  }

  findForClient(clientId: string, id: string): Promise<Order | null> {
    return this.orders.findOneBy({ id, clientId });
  }

  /** Keyset pagination in placed_at order, within an optional half-open period; one row more than `limit`. */
  list(
    clientId: string,
    page: { limit: number; cursor?: string; from?: Date; to?: Date },
  ): Promise<Order[]> {
    const builder = this.orders
      .createQueryBuilder('o')
      .where('o.client_id = :clientId', { clientId })
      .orderBy('o.placed_at', 'ASC')
      .addOrderBy('o.id', 'ASC')
      .limit(page.limit + 1);
    if (page.from) builder.andWhere('o.placed_at >= :start', { start: page.from });
    if (page.to) builder.andWhere('o.placed_at < :end', { end: page.to });
    if (page.cursor) {
      const { at, id }: Position = decodeCursor(page.cursor);
      builder.andWhere('(o.placed_at, o.id) > (:at, :id)', { at, id });
    }
    return builder.getMany();
  }

  /** The period's next `limit` orders, in (placed_at, id) order, after `after` if given. */
  readPeriod(
    clientId: string,
    period: Period,
    limit: number,
    after?: PeriodOrder,
  ): Promise<PeriodOrder[]> {
    return this.dataSource.query<PeriodOrder[]>(
      `SELECT id, number, placed_at AS "placedAt", customer_name AS "customerName", status,
              item_count AS "itemCount", trim_scale(total)::text AS total, currency
         FROM orders
        WHERE client_id = $1 AND placed_at >= $2 AND placed_at < $3
          AND ($4::timestamptz IS NULL OR (placed_at, id) > ($4, $5::uuid))
        ORDER BY placed_at, id
        LIMIT $6`,
      [clientId, period.from, period.to, after?.placedAt ?? null, after?.id ?? null, limit],
    );
  }

  /**
   * How many orders the period holds, counting at most `cap` (on the (client_id, placed_at) index:
   * bounded work whatever the period).
   */
  async countPeriod(clientId: string, period: Period, cap?: number): Promise<number> {
    const [{ count }] = await this.dataSource.query<{ count: number }[]>(
      `SELECT count(*)::int AS count FROM (
         SELECT 1 FROM orders WHERE client_id = $1 AND placed_at >= $2 AND placed_at < $3 LIMIT $4
       ) counted`,
      [clientId, period.from, period.to, cap ?? null],
    );
    return count;
  }

  /** Inserts with one `unnest` statement per batch: tens of thousands of orders a second. */
  async insertMany(clientId: string, orders: NewOrder[]): Promise<number> {
    for (let offset = 0; offset < orders.length; offset += INSERT_BATCH) {
      const batch = orders.slice(offset, offset + INSERT_BATCH);
      await this.dataSource.query(
        `INSERT INTO orders (client_id, number, placed_at, status, currency, customer_name,
                             customer_email, items, item_count, total)
         SELECT $1, * FROM unnest($2::text[], $3::timestamptz[], $4::text[], $5::text[], $6::text[],
                                  $7::text[], $8::jsonb[], $9::int[], $10::numeric[])`,
        [
          clientId,
          batch.map((o) => o.number),
          batch.map((o) => o.placedAt),
          batch.map((o) => o.status),
          batch.map((o) => o.currency),
          batch.map((o) => o.customerName),
          batch.map((o) => o.customerEmail),
          batch.map((o) => JSON.stringify(o.items)),
          batch.map((o) => o.itemCount),
          batch.map((o) => o.total),
        ],
      );
    }
    return orders.length;
  }
}
