import { Injectable } from '@nestjs/common';
import { ApiError } from '../common/api-error';
import {
  currencyDigits,
  formatMinorUnits,
  lineTotal,
  maxTotal,
  toMinorUnits,
} from '../common/money';
import { encodeCursor, isUuid, Page } from '../common/pagination';
import { CreateOrderDto } from './create-order.dto';
import { ListOrdersQuery } from './list-orders.query';
import { OrderResponse, toOrderResponse } from './order.response';
import { NewOrder } from './order.entity';
import { orderNotFound, orderNumberTaken } from './orders.exceptions';
import { OrdersRepository } from './orders.repository';

/**
 * The row for a new order: the server computes the total and the item count, in the currency's own
 * minor units (a price with more decimals than its currency has is refused, naming it).
 */
export function newOrder(dto: CreateOrderDto): NewOrder {
  const { currency } = dto;
  const items = dto.items.map(({ sku, name, quantity, unit_price }) => ({
    sku,
    name,
    quantity,
    unit_price,
  }));
  const problems = items.flatMap(({ unit_price }, i) => {
    try {
      toMinorUnits(unit_price, currency);
      return [];
    } catch {
      const digits = currencyDigits(currency);
      const most =
        digits === 0 ? 'no decimals' : `at most ${digits} decimal${digits > 1 ? 's' : ''}`;
      return [{ field: `items.${i}.unit_price`, message: `must have ${most} in ${currency}` }];
    }
  });
  if (problems.length > 0) throw ApiError.validation(problems);
  const total = items.reduce((sum, i) => sum + lineTotal(i.quantity, i.unit_price, currency), 0n);
  if (total > maxTotal(currency)) {
    throw ApiError.invalidField(
      'items',
      `make a total larger than ${formatMinorUnits(maxTotal(currency), currency)}`,
    );
  }
  return {
    number: dto.number,
    placedAt: new Date(dto.placed_at),
    status: dto.status,
    currency: dto.currency,
    customerName: dto.customer.name,
    customerEmail: dto.customer.email,
    items,
    itemCount: items.reduce((sum, item) => sum + item.quantity, 0),
    total: formatMinorUnits(total, currency),
  };
}

const startOfDay = (day?: string) => (day ? new Date(`${day}T00:00:00Z`) : undefined);

@Injectable()
export class OrdersService {
  constructor(private readonly orders: OrdersRepository) {}

  async create(clientId: string, dto: CreateOrderDto): Promise<OrderResponse> {
    const order = await this.orders.insert(clientId, newOrder(dto));
    if (!order) throw orderNumberTaken(dto.number);
    return toOrderResponse(order);
  }

  async findOne(clientId: string, id: string): Promise<OrderResponse> {
    const order = isUuid(id) ? await this.orders.findForClient(clientId, id) : null;
    if (!order) throw orderNotFound();
    return toOrderResponse(order);
  }

  async list(clientId: string, query: ListOrdersQuery): Promise<Page<OrderResponse>> {
    const rows = await this.orders.list(clientId, {
      limit: query.limit,
      cursor: query.cursor,
      from: startOfDay(query.start_date),
      to: startOfDay(query.end_date),
    });
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
