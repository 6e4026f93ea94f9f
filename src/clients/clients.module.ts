import { Module } from '@nestjs/common';
import { perRole } from '../config/environment';
import { ClientsRepository } from './clients.repository';
import { ClientsService } from './clients.service';
import { SigningKeysController } from './signing-keys.controller';
import { SigningKeysRepository } from './signing-keys.repository';
import { WebhookSecretController } from './webhook-secret.controller';

/**
 * The merchants: their API keys, webhook secrets and signing keys; the routes that rotate them in
 * the API part.
 */
@Module({})
export class ClientsModule {
  static readonly forRole = perRole(({ api }) => ({
    module: ClientsModule,
    controllers: api ? [WebhookSecretController, SigningKeysController] : [],
    providers: [ClientsRepository, SigningKeysRepository, ClientsService],
    exports: [ClientsRepository, ClientsService],
  }));
}
