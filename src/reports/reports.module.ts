import { BullModule } from '@nestjs/bull';
import { Module } from '@nestjs/common';
import { CallbacksModule } from '../callbacks/callbacks.module';
import { ClientsModule } from '../clients/clients.module';
import { QueueName } from '../common/jobs';
import { OrdersModule } from '../orders/orders.module';
import { FairQueue } from '../fair-queue/fair-queue';
import { ReportAdmission } from './admission/report-admission';
import { ReportEvents } from './store/report-events';
import { ReportFilesRepository } from './store/report-files.repository';
import { ReportRetention } from './store/report-retention';
import { ReportsRepository } from './store/reports.repository';
import { ReportsService } from './api/reports.service';
import { RetryAfterEstimates } from './admission/retry-after';

const RENDER_QUEUE = BullModule.registerQueue({ name: QueueName.ReportRender });

/**
 * Reports and their PDFs. What both parts of the application share; the routes are in the API part,
 * the render and the sweep in the worker part (app.module.ts).
 */
@Module({
  imports: [RENDER_QUEUE, CallbacksModule, ClientsModule, OrdersModule],
  providers: [
    ReportsRepository,
    ReportFilesRepository,
    ReportsService,
    ReportAdmission,
    ReportEvents,
    RetryAfterEstimates,
    FairQueue,
    ReportRetention,
  ],
  exports: [
    RENDER_QUEUE,
    CallbacksModule,
    OrdersModule,
    ReportsRepository,
    ReportFilesRepository,
    ReportsService,
    ReportAdmission,
    ReportEvents,
    FairQueue,
    ReportRetention,
  ],
})
export class ReportsModule {}
