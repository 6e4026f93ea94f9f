import { Inject, Injectable } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { InjectDataSource } from '@nestjs/typeorm';
import { createHash } from 'node:crypto';
import { DataSource } from 'typeorm';
import { CallbacksService } from '../callbacks/callbacks.service';
import { ClientsRepository } from '../clients/clients.repository';
import { ApiError } from '../common/api-error';
import { canonicalTimeZone, periodBounds, periodErrors } from '../common/period';
import { reportsConfig } from '../config/configuration';
import { OrdersRepository } from '../orders/orders.repository';
import { CreateReportDto } from './dto/create-report.dto';
import { ReadReport, Report } from './report.entity';
import {
  idempotencyKeyReused,
  overloaded,
  reportTooLarge,
  tooManyReports,
} from './reports.exceptions';
import { ReportsRepository } from './reports.repository';
import { ReportsService } from './reports.service';
import { RetryAfterEstimates } from './retry-after';

/** RFC-style opaque key: visible ASCII, as Stripe and the IETF draft use it. */
const IDEMPOTENCY_KEY = /^[\x21-\x7E]{1,255}$/;

/**
 * The same body hashes the same whatever the order of its keys, and a body without time_zone as one
 * naming the client's own zone. UTC, the only zone before there were zones, hashes as it did then:
 * an Idempotency-Key sent before them still finds its report.
 */
function requestHash(dto: CreateReportDto, timeZone: string): string {
  const fields = [dto.start_date, dto.end_date, dto.callback_url ?? null];
  if (timeZone !== 'UTC') fields.push(timeZone);
  return createHash('sha256').update(JSON.stringify(fields)).digest('hex');
}

export interface CreatedReport {
  report: Report;
  /** True when an Idempotency-Key replay answered an existing report. */
  replayed: boolean;
  retryAfter: number;
}

/** POST /v1/orders/reports: what a request must be, and whether the service takes it now. */
@Injectable()
export class ReportAdmission {
  constructor(
    private readonly reports: ReportsRepository,
    private readonly service: ReportsService,
    private readonly orders: OrdersRepository,
    private readonly clients: ClientsRepository,
    private readonly callbacks: CallbacksService,
    private readonly estimates: RetryAfterEstimates,
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(reportsConfig.KEY) private readonly config: ConfigType<typeof reportsConfig>,
  ) {}

  /**
   * A new report, queued in its client's turn; or, for an Idempotency-Key seen before with the same
   * body, the report it answers (never refused by the bounds). Refused when the client has
   * REPORT_MAX_UNFINISHED_PER_CLIENT reports unfinished (429), or REPORT_QUEUE_MAX reports wait for
   * a render (503): overload is refused, not absorbed.
   */
  async admit(
    clientId: string,
    dto: CreateReportDto,
    idempotencyKey?: string,
  ): Promise<CreatedReport> {
    if (idempotencyKey !== undefined && !IDEMPOTENCY_KEY.test(idempotencyKey)) {
      throw ApiError.invalidField('Idempotency-Key', 'must be 1 to 255 visible ASCII characters');
    }
    const problems = periodErrors(dto.start_date, dto.end_date, this.config.maxRangeDays);
    if (problems.length > 0) throw ApiError.validation(problems);
    const timeZone = dto.time_zone
      ? canonicalTimeZone(dto.time_zone)!
      : await this.clients.timeZone(clientId);
    const hash = requestHash(dto, timeZone);
    const replay = async (report: ReadReport | undefined): Promise<CreatedReport> => {
      if (!report) throw new Error('Idempotency-Key conflict without a report');
      if (report.requestHash !== hash) throw idempotencyKeyReused();
      return { report, replayed: true, retryAfter: await this.estimates.forReport(report) };
    };
    if (idempotencyKey) {
      const existing = await this.reports.findByIdempotencyKey(clientId, idempotencyKey);
      if (existing) return replay(existing);
    }
    if (dto.callback_url !== undefined) await this.callbacks.checkUrl(dto.callback_url);
    const period = periodBounds(dto.start_date, dto.end_date, timeZone);
    const max = this.config.maxOrders;
    if ((await this.orders.countPeriod(clientId, period, max + 1)) > max) {
      throw reportTooLarge(max);
    }
    const admitted = await this.dataSource.transaction(async (transaction) => {
      const admission = await this.reports.admission(transaction, clientId, idempotencyKey, {
        unfinished: this.config.maxUnfinishedPerClient,
        backlog: this.config.queueMax,
      });
      if (admission.existing) return { replayOf: admission.existing };
      if (admission.unfinished >= this.config.maxUnfinishedPerClient) {
        const wait = await this.estimates.forQueue(admission.clientAhead);
        throw tooManyReports(this.config.maxUnfinishedPerClient, wait);
      }
      if (admission.backlog >= this.config.queueMax) {
        throw overloaded(await this.estimates.forQueue(admission.backlog));
      }
      const report = await this.reports.insert(transaction, clientId, {
        startDate: dto.start_date,
        endDate: dto.end_date,
        timeZone,
        callbackUrl: dto.callback_url ?? null,
        idempotencyKey: idempotencyKey ?? null,
        requestHash: hash,
      });
      if (!report) throw new Error('Idempotency-Key conflict under the admission lock');
      return { report };
    });
    if ('replayOf' in admitted) return replay(admitted.replayOf);
    const { report } = admitted;
    await this.service.enqueue(report.id, report.fairRound);
    return { report, replayed: false, retryAfter: await this.estimates.forReport(report) };
  }
}
