import { BullModule } from '@nestjs/bull';
import { Module } from '@nestjs/common';
import { CallbacksModule } from '../callbacks/callbacks.module';
import { ClientsModule } from '../clients/clients.module';
import { QueueName } from '../common/jobs';
import { keepsPdfsInBucket } from '../config/configuration';
import { perRole } from '../config/environment';
import { FAIR_QUEUE_SOURCE, FairQueue } from '../fair-queue/fair-queue';
import { OrdersModule } from '../orders/orders.module';
import { PdfModule } from '../pdf/pdf.module';
import { StorageModule } from '../storage/storage.module';
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
import { BucketReportFiles } from './store/bucket-report-files';
import { PostgresReportFiles } from './store/postgres-report-files';
import { ReportFiles } from './store/report-files';
import { ReportRetention } from './store/report-retention';
import { ReportsRepository } from './store/reports.repository';
import { ReportSweeper } from './sweep/report-sweeper';

/**
 * Reports and their PDFs (in Postgres, or in a bucket: StorageModule). Every process holds the store and the queues; the API part answers the
 * routes and admits reports (api/, admission/); the worker part renders them (render/, with the
 * PDF engine) and sweeps (sweep/).
 */
@Module({})
export class ReportsModule {
  static readonly forRole = perRole((parts) => {
    // Where the PDFs are kept, chosen once at boot (REPORT_STORAGE).
    const bucket = keepsPdfsInBucket();
    return {
      module: ReportsModule,
      imports: [
        BullModule.registerQueue({ name: QueueName.ReportRender }),
        StorageModule.register(bucket),
        ...[CallbacksModule, ClientsModule, OrdersModule].map((feature) => feature.forRole(parts)),
        ...(parts.worker ? [PdfModule] : []),
      ],
      controllers: parts.api ? [ReportsController, ReportCallbacksController] : [],
      providers: [
        PostgresReportFiles,
        bucket
          ? { provide: ReportFiles, useClass: BucketReportFiles }
          : { provide: ReportFiles, useExisting: PostgresReportFiles },
        ...[ReportsRepository, ReportEvents, ReportRetention, RetryAfterEstimates],
        ...[FairQueue, { provide: FAIR_QUEUE_SOURCE, useExisting: ReportsRepository }, RenderQueue],
        ...(parts.api ? [ReportsService, ReportAdmission] : []),
        ...(parts.worker
          ? [
              ReportRenderProcessor,
              RenderReport,
              ReportOrdersReader,
              ReportSettlement,
              ReportSweeper,
            ]
          : []),
      ],
    };
  });
}
