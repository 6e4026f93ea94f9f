import { InjectQueue } from '@nestjs/bull';
import { Inject, Injectable } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import type { Attributes } from '@opentelemetry/api';
import type { Job, Queue } from 'bull';
import { JobData, QueueName } from '../../common/jobs';
import { QueueProcessor } from '../../common/queue-processor';
import { renderConfig } from '../../config/configuration';
import { RenderReport } from './render-report';
import { PdfRenderer } from '../../pdf/pdf-renderer.service';

type Render = JobData[QueueName.ReportRender];

/** Takes render jobs, RENDER_CONCURRENCY at a time, and hands each to RenderReport. */
@Injectable()
export class ReportRenderProcessor extends QueueProcessor<Render> {
  constructor(
    @InjectQueue(QueueName.ReportRender) queue: Queue<Render>,
    private readonly renderReport: RenderReport,
    private readonly renderer: PdfRenderer,
    @Inject(renderConfig.KEY) render: ConfigType<typeof renderConfig>,
  ) {
    super(queue, render.concurrency);
  }

  onApplicationBootstrap(): void {
    void this.renderer.warmUp();
    super.onApplicationBootstrap();
  }

  protected spanAttributes(job: Job<Render>): Attributes {
    return { 'report.id': job.data.reportId, 'report.render.try': job.attemptsMade + 1 };
  }

  protected handle(job: Job<Render>): Promise<void> {
    const tries = job.opts.attempts ?? 1;
    return this.renderReport.run(job.data.reportId, {
      number: job.attemptsMade + 1,
      last: job.attemptsMade + 1 >= tries,
    });
  }
}
