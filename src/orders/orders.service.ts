import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { QueryFailedError, Repository } from 'typeorm';
import { ApiError } from '../common/api-error';
import { formatMinorUnits, lineTotal, MAX_STORED_MINOR_UNITS } from '../common/money';
import { decodeCursor, encodeCursor, isUuid, Page } from '../common/pagination';
import { CreateOrderDto } from './dto/create-order.dto';
import { ListOrdersQuery } from './dto/list-orders.query';
import { Order } from './order.entity';

export enum OrderErrorCode {
  OrderNotFound = 'ORDER_NOT_FOUND',
  OrderNumberTaken = 'ORDER_NUMBER_TAKEN',
}

export interface OrderResponse {
  id: string;
  number: string;
  placed_at: string;
  status: string;
  currency: string;
  customer: { name: string; email: string };
  items: Order['items'];
  item_count: number;
  total: string;
  created_at: string;
}

export function toOrderResponse(order: Order): OrderResponse {
  return {
    id: order.id,
    number: order.number,
    placed_at: order.placedAt.toISOString(),
    status: order.status,
    currency: order.currency,
    customer: { name: order.customerName, email: order.customerEmail },
    items: order.items,
    item_count: order.itemCount,
    total: order.total,
    created_at: order.createdAt.toISOString(),
  };
}

/** The row for a new order: the server computes the total and the item count. */
export function newOrderRow(clientId: string, dto: CreateOrderDto): Partial<Order> {
  const items = dto.items.map(({ sku, name, quantity, unit_price }) => ({
    sku,
    name,
    quantity,
    unit_price,
  }));
  const total = items.reduce((sum, i) => sum + lineTotal(i.quantity, i.unit_price), 0n);
  if (total > MAX_STORED_MINOR_UNITS) {
    throw ApiError.validation([
      { field: 'items', message: 'make a total larger than 9999999999999999.99' },
    ]);
  }
  return {
    clientId,
    number: dto.number,
    placedAt: new Date(dto.placed_at),
    status: dto.status,
    currency: dto.currency,
    customerName: dto.customer.name,
    customerEmail: dto.customer.email,
    items,
    itemCount: items.reduce((sum, item) => sum + item.quantity, 0),
    total: formatMinorUnits(total),
  };
}

@Injectable()
export class OrdersService {
  constructor(@InjectRepository(Order) private readonly orders: Repository<Order>) {}

  async create(clientId: string, dto: CreateOrderDto): Promise<OrderResponse> {
    try {
      const order = await this.orders.save(this.orders.create(newOrderRow(clientId, dto)));
      return toOrderResponse(order);
    } catch (error) {
      if (
        error instanceof QueryFailedError &&
        (error.driverError as { code?: string }).code === '23505'
      ) {
        throw new ApiError(
          409,
          OrderErrorCode.OrderNumberTaken,
          `Order number ${dto.number} is already taken`,
        );
      }
      throw error;
    }
  }

  async findOne(clientId: string, id: string): Promise<OrderResponse> {
    const order = isUuid(id) ? await this.orders.findOneBy({ id, clientId }) : null;
    if (!order) throw new ApiError(404, OrderErrorCode.OrderNotFound, 'No such order');
    return toOrderResponse(order);
  }

  /** Keyset pagination in placed_at order, within an optional half-open period. */
  async list(clientId: string, query: ListOrdersQuery): Promise<Page<OrderResponse>> {
    const builder = this.orders
      .createQueryBuilder('o')
      .where('o.client_id = :clientId', { clientId })
      .orderBy('o.placed_at', 'ASC')
      .addOrderBy('o.id', 'ASC')
      .limit(query.limit + 1);
    if (query.start_date)
      builder.andWhere('o.placed_at >= :start', { start: `${query.start_date}T00:00:00Z` });
    if (query.end_date)
      builder.andWhere('o.placed_at < :end', { end: `${query.end_date}T00:00:00Z` });
    if (query.cursor) {
      const { at, id } = decodeCursor(query.cursor);
      builder.andWhere('(o.placed_at, o.id) > (:at, :id)', { at, id });
    }
    const rows = await builder.getMany();
    const page = rows.slice(0, query.limit);
    const last = page[page.length - 1];
    return {
      data: page.map(toOrderResponse),
      next_cursor:
        rows.length > query.limit && last
          ? encodeCursor({ at: last.placedAt.toISOString(), id: last.id })
          : null,
    };
  }
}
