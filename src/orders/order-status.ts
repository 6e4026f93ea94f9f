export enum OrderStatus {
  Pending = 'PENDING',
  Paid = 'PAID',
  Shipped = 'SHIPPED',
  Delivered = 'DELIVERED',
  Canceled = 'CANCELED',
  Refunded = 'REFUNDED',
}
