import { Module } from '@nestjs/common';
import { perRole } from '../config/environment';
import { OrdersController } from './orders.controller';
import { OrdersRepository } from './orders.repository';
import { OrdersService } from './orders.service';

/** The orders reports are made from; their routes in the API part. */
@Module({})
export class OrdersModule {
  static readonly forRole = perRole(({ api }) => ({
    module: OrdersModule,
    controllers: api ? [OrdersController] : [],
    providers: [OrdersService, OrdersRepository],
    exports: [OrdersRepository],
  }));
}
