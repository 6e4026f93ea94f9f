import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

export enum CallbackStatus {
  Pending = 'PENDING',
  Delivered = 'DELIVERED',
  Failed = 'FAILED',
  Gone = 'GONE',
}

/** One event to tell a partner about: its id is the `webhook-id` of every attempt. */
@Entity('callback_events')
export class CallbackEvent {
  @PrimaryColumn() id: string;
  @Column({ name: 'report_id', type: 'uuid' }) reportId: string;
  @Column({ name: 'client_id', type: 'uuid' }) clientId: string;
  @Column() url: string;
  /** The exact body sent on every attempt, so that every signature covers the same bytes. */
  @Column() payload: string;
  @Column({ type: 'text' }) status: CallbackStatus;
  @Column({ type: 'integer' }) attempts: number;
  @Column({ name: 'next_attempt_at', type: 'timestamptz', nullable: true })
  nextAttemptAt: Date | null;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt: Date;
}

@Entity('callback_attempts')
export class CallbackAttempt {
  @PrimaryColumn({ name: 'event_id' }) eventId: string;
  @PrimaryColumn({ type: 'integer' }) attempt: number;
  @Column({ type: 'timestamptz' }) at: Date;
  @Column({ name: 'status_code', type: 'integer', nullable: true }) statusCode: number | null;
  @Column({ name: 'duration_ms', type: 'integer' }) durationMs: number;
  @Column({ type: 'text', nullable: true }) error: string | null;
  @Column({ name: 'response_excerpt', type: 'text', nullable: true }) responseExcerpt:
    string | null;
}
