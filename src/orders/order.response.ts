import { storedAmount } from '../common/money';
import { Order } from './order.entity';

/** An order as the API answers it. */
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
    total: storedAmount(order.total, order.currency),
    created_at: order.createdAt.toISOString(),
  };
}
