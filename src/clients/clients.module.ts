import { Module } from '@nestjs/common';
import { perRole } from '../config/environment';
import { ClientsRepository } from './clients.repository';
import { ClientsService } from './clients.service';
import { WebhookSecretController } from './webhook-secret.controller';

/** The merchants: their API keys and webhook secrets; the webhook-secret route in the API part. */
@Module({})
export class ClientsModule {
  static readonly forRole = perRole(({ api }) => ({
    module: ClientsModule,
    controllers: api ? [WebhookSecretController] : [],
    providers: [ClientsRepository, ClientsService],
    exports: [ClientsRepository, ClientsService],
  }));
}
