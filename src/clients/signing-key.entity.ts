import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

/** A client's ed25519 key pair that signs its callbacks (Standard Webhooks `v1a`). */
@Entity('webhook_signing_keys')
export class WebhookSigningKey {
  @PrimaryColumn('uuid') id: string;
  @Column({ name: 'client_id', type: 'uuid' }) clientId: string;
  /** The raw 32 bytes; shown to the client as `whpk_` + base64. */
  @Column({ name: 'public_key', type: 'bytea' }) publicKey: Buffer;
  /** PKCS#8, encrypted with WEBHOOK_SECRETS_KEY, bound to its client and row; never shown. */
  @Column({ name: 'private_key', type: 'text' }) privateKey: string;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt: Date;
  /** Null: the current key. Set by a rotation: the previous key, which signs until then. */
  @Column({ name: 'expires_at', type: 'timestamptz', nullable: true }) expiresAt: Date | null;
}
