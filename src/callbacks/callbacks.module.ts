import { HttpModule } from '@nestjs/axios';
import { BullModule } from '@nestjs/bull';
import { Module } from '@nestjs/common';
import { ClientsModule } from '../clients/clients.module';
import { QueueName } from '../common/jobs';
import { perRole } from '../config/environment';
import { CallbackDeliveryProcessor } from './callback-delivery.processor';
import { CallbackEventsRepository } from './callback-events.repository';
import { CallbackSender } from './callback-sender';
import { CallbackSlots } from './callback-slots';
import { CallbacksService } from './callbacks.service';

const DELIVERY_QUEUE = BullModule.registerQueue({ name: QueueName.CallbackDelivery });

/** The callbacks' outbox in every process; their delivery in the worker part. */
@Module({})
export class CallbacksModule {
  static readonly forRole = perRole((parts) => {
    const delivery = [CallbackDeliveryProcessor, CallbackSender, CallbackSlots];
    return {
      module: CallbacksModule,
      imports: [
        DELIVERY_QUEUE,
        ClientsModule.forRole(parts),
        ...(parts.worker ? [HttpModule] : []),
      ],
      providers: [CallbacksService, CallbackEventsRepository, ...(parts.worker ? delivery : [])],
      exports: [CallbacksService, CallbackEventsRepository],
    };
  });
}
