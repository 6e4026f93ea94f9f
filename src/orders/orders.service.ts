import { Injectable } from '@nestjs/common';
import { ApiError } from '../common/api-error';
import { formatMinorUnits, lineTotal, MAX_STORED_MINOR_UNITS } from '../common/money';
import { encodeCursor, isUuid, Page } from '../common/pagination';
import { CreateOrderDto } from './dto/create-order.dto';
import { ListOrdersQuery } from './dto/list-orders.query';
import { OrderResponse, toOrderResponse } from './dto/order.response';
import { NewOrder } from './order.entity';
import { orderNotFound, orderNumberTaken } from './orders.exceptions';
import { OrdersRepository } from './orders.repository';

/** The row for a new order: the server computes the total and the item count. */
export function newOrder(dto: CreateOrderDto): NewOrder {
  const items = dto.items.map(({ sku, name, quantity, unit_price }) => ({
    sku,
    name,
    quantity,
    unit_price,
  }));
  const total = items.reduce((sum, i) => sum + lineTotal(i.quantity, i.unit_price), 0n);
  if (total > MAX_STORED_MINOR_UNITS) {
    throw ApiError.invalidField('items', 'make a total larger than 9999999999999999.99');
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
    total: formatMinorUnits(total),
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
