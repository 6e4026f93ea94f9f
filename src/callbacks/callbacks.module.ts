import { BullModule } from '@nestjs/bull';
import { Module } from '@nestjs/common';
import { QueueName } from '../common/jobs';
import { CallbackEventsRepository } from './callback-events.repository';
import { CallbacksService } from './callbacks.service';

const DELIVERY_QUEUE = BullModule.registerQueue({ name: QueueName.CallbackDelivery });

/** The callbacks' outbox; the delivery worker is in the worker part (app.module.ts). */
@Module({
  imports: [DELIVERY_QUEUE],
  providers: [CallbacksService, CallbackEventsRepository],
  exports: [CallbacksService, CallbackEventsRepository, DELIVERY_QUEUE],
})
export class CallbacksModule {}
