import { BullModule } from '@nestjs/bull';
import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { CallbacksModule } from '../callbacks/callbacks.module';
import { QueueName } from '../common/queues';
import { PdfRenderer } from './rendering/pdf-renderer.service';
import { Report, ReportFileChunk } from './report.entity';
import { ReportRenderProcessor } from './report-render.processor';
import { ReportsController } from './reports.controller';
import { ReportsService } from './reports.service';
import { ReportSweeper } from './report-sweeper';
import { ReportEvents } from './report-events';

const RENDER_QUEUE = BullModule.registerQueue({ name: QueueName.ReportRender });

@Module({
  imports: [TypeOrmModule.forFeature([Report, ReportFileChunk]), RENDER_QUEUE, CallbacksModule],
  controllers: [ReportsController],
  providers: [ReportsService, ReportEvents, ReportRenderProcessor, ReportSweeper, PdfRenderer],
  exports: [RENDER_QUEUE, PdfRenderer],
})
export class ReportsModule {}
