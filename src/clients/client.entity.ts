import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';

@Entity('clients')
export class Client {
  @PrimaryGeneratedColumn('uuid') id: string;
  @Column() name: string;
  /** SHA-256 of the API key: keys are 256-bit random, so a fast hash is enough and lookups stay O(1). */
  @Column({ name: 'api_key_hash', type: 'char', length: 64, nullable: true })
  apiKeyHash: string | null;
  @Column({ name: 'api_key_created_at', type: 'timestamptz', default: () => 'now()' })
  apiKeyCreatedAt: Date;
  /** Set when every key of the client was revoked; cleared by the next rotation. */
  @Column({ name: 'api_key_revoked_at', type: 'timestamptz', nullable: true })
  apiKeyRevokedAt: Date | null;
  /** The key before the last rotation: it works until its expiry (the grace period). */
  @Column({ name: 'previous_api_key_hash', type: 'char', length: 64, nullable: true })
  previousApiKeyHash: string | null;
  @Column({ name: 'previous_api_key_expires_at', type: 'timestamptz', nullable: true })
  previousApiKeyExpiresAt: Date | null;
  /** Encrypted with WEBHOOK_SECRETS_KEY; signs every callback. */
  @Column({ name: 'webhook_secret', type: 'text', nullable: true }) webhookSecret: string | null;
  /** The secret before the last rotation: it signs alongside the new one until it expires. */
  @Column({ name: 'previous_webhook_secret', type: 'text', nullable: true })
  previousWebhookSecret: string | null;
  @Column({ name: 'previous_webhook_secret_expires_at', type: 'timestamptz', nullable: true })
  previousWebhookSecretExpiresAt: Date | null;
  /** IANA name: the default zone of the client's reports (their periods and printed times). */
  @Column({ name: 'time_zone', type: 'text', default: 'UTC' }) timeZone: string;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt: Date;
}
