import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';
import { OrderStatus } from './order-status';

export interface OrderItem {
  sku: string;
  name: string;
  quantity: number;
  unit_price: string;
}

@Entity('orders')
export class Order {
  @PrimaryGeneratedColumn('uuid') id: string;
  @Column({ name: 'client_id', type: 'uuid' }) clientId: string;
  @Column() number: string;
  @Column({ name: 'placed_at', type: 'timestamptz' }) placedAt: Date;
  @Column({ type: 'text' }) status: OrderStatus;
  @Column({ type: 'char', length: 3 }) currency: string;
  @Column({ name: 'customer_name' }) customerName: string;
  @Column({ name: 'customer_email' }) customerEmail: string;
  @Column({ type: 'jsonb' }) items: OrderItem[];
  @Column({ name: 'item_count', type: 'integer' }) itemCount: number;
  /** numeric(20,4), read back as an exact decimal string (money.ts: storedAmount). */
  @Column({ type: 'numeric', precision: 20, scale: 4 }) total: string;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt: Date;
}

/** An order as it is written: the server has computed its item count and total. */
export type NewOrder = Pick<
  Order,
  | 'number'
  | 'placedAt'
  | 'status'
  | 'currency'
  | 'customerName'
  | 'customerEmail'
  | 'items'
  | 'itemCount'
  | 'total'
>;
