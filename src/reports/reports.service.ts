import { InjectQueue } from '@nestjs/bull';
import { Inject, Injectable } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import type { Queue } from 'bull';
import { DataSource, Repository } from 'typeorm';
import { ApiError } from '../common/api-error';
import { isUuid } from '../common/pagination';
import { JobData, QueueName } from '../common/queues';
import { callbacksConfig, renderConfig, reportsConfig } from '../config/configuration';
import { CallbackErrorCode } from '../callbacks/callbacks.service';
import { callbackUrlProblem } from '../callbacks/ssrf';
import { CreateReportDto } from './dto/create-report.dto';
import { periodErrors } from './period';
import { Report, ReportFile, ReportStatus } from './report.entity';
import { ReportErrorCode } from './report-errors';
import { estimateRetryAfter } from './retry-after';

/** Assumed render time until the first reports have rendered. */
const DEFAULT_RENDER_MS = 2000;
/** How long the queue depth and mean render time are reused before being read again. */
const ESTIMATE_TTL_MS = 1000;

export function renderJobOptions(reportId: string, attempts: number) {
  return {
    jobId: reportId,
    attempts,
    backoff: { type: 'exponential', delay: 2000 },
    removeOnComplete: true,
    removeOnFail: true,
  };
}

@Injectable()
export class ReportsService {
  private estimate?: { at: number; jobsAhead: number; meanRenderMs: number };

  constructor(
    @InjectRepository(Report) private readonly reports: Repository<Report>,
    @InjectDataSource() private readonly dataSource: DataSource,
    @InjectQueue(QueueName.ReportRender)
    private readonly renderQueue: Queue<JobData[QueueName.ReportRender]>,
    @Inject(reportsConfig.KEY) private readonly config: ConfigType<typeof reportsConfig>,
    @Inject(renderConfig.KEY) private readonly render: ConfigType<typeof renderConfig>,
    @Inject(callbacksConfig.KEY) private readonly callbacks: ConfigType<typeof callbacksConfig>,
  ) {}

  async create(clientId: string, dto: CreateReportDto): Promise<Report> {
    const problems = periodErrors(dto.start_date, dto.end_date, this.config.maxRangeDays);
    if (problems.length > 0) throw ApiError.validation(problems);
    if (dto.callback_url !== undefined) await this.checkCallbackUrl(dto.callback_url);
    const report = await this.reports.save(
      this.reports.create({
        clientId,
        startDate: dto.start_date,
        endDate: dto.end_date,
        callbackUrl: dto.callback_url ?? null,
      }),
    );
    await this.renderQueue.add(
      { reportId: report.id },
      renderJobOptions(report.id, this.render.attempts),
    );
    return report;
  }

  /** Refused at request time; the delivery checks the address again at connection time. */
  private async checkCallbackUrl(url: string): Promise<void> {
    const problem = await callbackUrlProblem(url, this.callbacks.allowPrivateNetworks);
    if (problem?.code === 'VALIDATION_FAILED') {
      throw ApiError.validation([{ field: 'callback_url', message: problem.message }]);
    }
    if (problem) {
      throw new ApiError(400, CallbackErrorCode.CallbackUrlNotAllowed, problem.message);
    }
  }

  /** The client's own report; another client's id is answered exactly as an unknown one. */
  async findForClient(clientId: string, id: string): Promise<Report> {
    const report = isUuid(id) ? await this.reports.findOneBy({ id, clientId }) : null;
    if (!report) throw new ApiError(404, ReportErrorCode.ReportNotFound, 'No such report');
    return report;
  }

  async pdf(report: Report): Promise<Buffer> {
    const file = await this.dataSource.getRepository(ReportFile).findOneBy({ reportId: report.id });
    if (!file)
      throw new ApiError(404, ReportErrorCode.ReportNotReady, 'The report is not ready yet');
    return file.pdf;
  }

  /** Seconds until the report is likely done, from the work ahead and the recent render times. */
  async retryAfter(report: Report): Promise<number> {
    const { jobsAhead, meanRenderMs } = await this.queueEstimate();
    return estimateRetryAfter({
      jobsAhead: report.status === ReportStatus.Pending ? jobsAhead : 0,
      concurrency: this.render.concurrency,
      meanRenderMs,
      progress: report.progress,
    });
  }

  private async queueEstimate() {
    if (this.estimate && Date.now() - this.estimate.at < ESTIMATE_TTL_MS) return this.estimate;
    const [counts, [recent]] = await Promise.all([
      this.renderQueue.getJobCounts(),
      this.dataSource.query<{ mean: string | null }[]>(
        `SELECT avg(render_ms) AS mean FROM (
           SELECT render_ms FROM reports WHERE status = 'COMPLETED'
           ORDER BY completed_at DESC LIMIT 20) recent`,
      ),
    ]);
    this.estimate = {
      at: Date.now(),
      jobsAhead: Math.max(0, counts.waiting + counts.active + counts.delayed - 1),
      meanRenderMs: recent?.mean ? Number(recent.mean) : DEFAULT_RENDER_MS,
    };
    return this.estimate;
  }
}
