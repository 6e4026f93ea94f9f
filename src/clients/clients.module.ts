import { Module } from '@nestjs/common';
import { ClientsRepository } from './clients.repository';

/** The merchants: their API keys and webhook secrets. */
@Module({ providers: [ClientsRepository], exports: [ClientsRepository] })
export class ClientsModule {}
