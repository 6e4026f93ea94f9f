import { BullModule } from '@nestjs/bull';
import { Module } from '@nestjs/common';
import { CallbacksModule } from '../callbacks/callbacks.module';
import { ClientsModule } from '../clients/clients.module';
import { QueueName } from '../common/jobs';
import { perRole } from '../config/environment';
import { FAIR_QUEUE_SOURCE, FairQueue } from '../fair-queue/fair-queue';
import { OrdersModule } from '../orders/orders.module';
import { PdfModule } from '../pdf/pdf.module';
import { RenderQueue } from './admission/render-queue';
import { ReportAdmission } from './admission/report-admission';
import { RetryAfterEstimates } from './admission/retry-after';
import { ReportCallbacksController } from './api/report-callbacks.controller';
import { ReportsController } from './api/reports.controller';
import { ReportsService } from './api/reports.service';
import { RenderReport } from './render/render-report';
import { ReportOrdersReader } from './render/report-orders-reader';
import { ReportRenderProcessor } from './render/report-render.processor';
import { ReportSettlement } from './render/report-settlement';
import { ReportEvents } from './store/report-events';
import { ReportFiles } from './store/report-files';
import { ReportRetention } from './store/report-retention';
import { ReportsRepository } from './store/reports.repository';
import { ReportSweeper } from './sweep/report-sweeper';

const RENDER_QUEUE = BullModule.registerQueue({ name: QueueName.ReportRender });

/**
 * Reports and their PDFs. Every process holds the store and the queue; the API part answers the
 * routes and admits reports (api/, admission/); the worker part renders them (render/, with the
 * PDF engine) and sweeps (sweep/).
 */
@Module({})
export class ReportsModule {
  static readonly forRole = perRole((parts) => {
    const routes = [ReportsService, ReportAdmission];
    const work = [ReportRenderProcessor, RenderReport, ReportOrdersReader, ReportSettlement];
    return {
      module: ReportsModule,
      imports: [
        RENDER_QUEUE,
        CallbacksModule.forRole(parts),
        ClientsModule.forRole(parts),
        OrdersModule.forRole(parts),
        ...(parts.worker ? [PdfModule] : []),
      ],
      controllers: parts.api ? [ReportsController, ReportCallbacksController] : [],
      providers: [
        ReportsRepository,
        ReportFiles,
        ReportEvents,
        ReportRetention,
        RetryAfterEstimates,
        FairQueue,
        { provide: FAIR_QUEUE_SOURCE, useExisting: ReportsRepository },
        RenderQueue,
        ...(parts.api ? routes : []),
        ...(parts.worker ? [...work, ReportSweeper] : []),
      ],
    };
  });
}
