import { Module } from '@nestjs/common';
import { ClientsRepository } from './clients.repository';
import { ClientsService } from './clients.service';

const PROVIDERS = [ClientsRepository, ClientsService];

/** The merchants: their API keys and webhook secrets. */
@Module({ providers: PROVIDERS, exports: PROVIDERS })
export class ClientsModule {}
