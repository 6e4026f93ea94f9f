import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';

@Entity('clients')
export class Client {
  @PrimaryGeneratedColumn('uuid') id: string;
  @Column() name: string;
  /** SHA-256 of the API key: keys are 256-bit random, so a fast hash is enough and lookups stay O(1). */
  @Column({ name: 'api_key_hash', type: 'char', length: 64 }) apiKeyHash: string;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt: Date;
}
