import { HttpModule } from '@nestjs/axios';
import { BullModule } from '@nestjs/bull';
import { Module } from '@nestjs/common';
import { QueueName } from '../common/queues';
import { CallbackDeliveryProcessor } from './callback-delivery.processor';
import { CallbacksService } from './callbacks.service';
import { WebhookSecretController } from './webhook-secret.controller';

const DELIVERY_QUEUE = BullModule.registerQueue({ name: QueueName.CallbackDelivery });

@Module({
  imports: [HttpModule, DELIVERY_QUEUE],
  controllers: [WebhookSecretController],
  providers: [CallbacksService, CallbackDeliveryProcessor],
  exports: [CallbacksService, DELIVERY_QUEUE],
})
export class CallbacksModule {}
