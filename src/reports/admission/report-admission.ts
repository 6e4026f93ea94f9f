import { Inject, Injectable, Logger } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { InjectDataSource } from '@nestjs/typeorm';
import { createHash, randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { CallbacksService } from '../../callbacks/callbacks.service';
import { ClientsRepository } from '../../clients/clients.repository';
import { ApiError } from '../../common/api-error';
import { canonicalTimeZone, periodBounds, periodErrors } from '../../common/period';
import { reportsConfig } from '../../config/configuration';
import { OrdersRepository } from '../../orders/orders.repository';
import { CreateReportDto } from '../api/dto/create-report.dto';
import { AdmitVerdict, FairQueue, FairQueueRebuilding } from '../../fair-queue/fair-queue';
import { NewReport, ReadReport, Report, ReportStatus } from '../store/report.entity';
import {
  idempotencyKeyReused,
  overloaded,
  queueRebuilding,
  reportTooLarge,
  tooManyReports,
} from '../store/report-errors';
import { ReportsRepository } from '../store/reports.repository';
import { RenderQueue } from './render-queue';
import { RetryAfterEstimates } from './retry-after';
import { annotateSpan } from '../../tracing/spans';

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

type Replay = (report: ReadReport | undefined) => Promise<CreatedReport>;

/** POST /v1/orders/reports: what a request must be, and whether the service takes it now. */
@Injectable()
export class ReportAdmission {
  private readonly logger = new Logger(ReportAdmission.name);

  constructor(
    private readonly reports: ReportsRepository,
    private readonly renderQueue: RenderQueue,
    private readonly queue: FairQueue,
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
   * a render (503): overload is refused, not absorbed. The bounds are checked first, in Redis
   * (FairQueue), before any DNS lookup or count of orders; the same few statements whatever the
   * backlog, and no request waits on another's lock.
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
    const replay: Replay = async (report) => {
      if (!report) throw new Error('Idempotency-Key conflict without a report');
      if (report.requestHash !== hash) throw idempotencyKeyReused();
      annotateSpan({ 'report.id': report.id, 'client.id': clientId });
      // Its place in the fair order: 0 while it renders, null when unknown or finished.
      const place =
        report.status === ReportStatus.InProgress
          ? 0
          : report.status === ReportStatus.Pending
            ? await this.queue.place(report.id)
            : null;
      return { report, replayed: true, retryAfter: await this.retryAfter(place, report.progress) };
    };
    const existing = idempotencyKey
      ? await this.reports.findByIdempotencyKey(clientId, idempotencyKey)
      : undefined;
    if (existing) return replay(existing);
    const report: NewReport & { id: string } = {
      id: randomUUID(),
      startDate: dto.start_date,
      endDate: dto.end_date,
      timeZone,
      callbackUrl: dto.callback_url ?? null,
      idempotencyKey: idempotencyKey ?? null,
      requestHash: hash,
    };
    annotateSpan({ 'report.id': report.id, 'client.id': clientId });
    let verdict: AdmitVerdict;
    try {
      verdict = await this.queue.admit(clientId, report.id, {
        unfinishedPerClient: this.config.maxUnfinishedPerClient,
        waiting: this.config.queueMax,
      });
    } catch (error) {
      // Redis answers but another process rebuilds the numbers: admitting by Postgres meanwhile
      // would not see the places reserved in Redis, so the bounds would not hold. Soon, again.
      if (error instanceof FairQueueRebuilding) {
        throw queueRebuilding();
      }
      this.logger.warn(
        `Admitting by Postgres alone: the fair queue did not answer (${String(error)})`,
      );
      return this.admitWithoutRedis(clientId, dto, report, replay);
    }
    if (verdict.verdict !== 'admitted') {
      // A concurrent request with the same key may have stored its report meanwhile: a replay.
      const stored = idempotencyKey
        ? await this.reports.findByIdempotencyKey(clientId, idempotencyKey)
        : undefined;
      if (stored) return replay(stored);
      if (verdict.verdict === 'client-full') {
        const wait = await this.retryAfter(verdict.clientAhead);
        throw tooManyReports(this.config.maxUnfinishedPerClient, wait);
      }
      throw overloaded(await this.retryAfter(verdict.waiting));
    }
    let stored: ReadReport | undefined;
    try {
      await this.checkSlowParts(clientId, dto, timeZone);
      stored = await this.reports.insert(this.dataSource.manager, clientId, {
        ...report,
        fairRound: verdict.turn,
      });
    } catch (error) {
      await this.queue.withdraw(clientId, report.id, verdict).catch(() => undefined);
      throw error;
    }
    if (!stored) {
      await this.queue.withdraw(clientId, report.id, verdict).catch(() => undefined);
      return replay(await this.reports.findByIdempotencyKey(clientId, idempotencyKey!));
    }
    await this.renderQueue.add(stored.id, stored.fairRound);
    return { report: stored, replayed: false, retryAfter: await this.retryAfter(verdict.place) };
  }

  /**
   * What costs a DNS lookup or a count of orders: after the bounds, both at once. A callback_url
   * refused is said before a period too large.
   */
  private async checkSlowParts(clientId: string, dto: CreateReportDto, timeZone: string) {
    const period = periodBounds(dto.start_date, dto.end_date, timeZone);
    const max = this.config.maxOrders;
    const [url, size] = await Promise.allSettled([
      dto.callback_url === undefined
        ? undefined
        : this.callbacks.checkUrl(dto.callback_url, clientId),
      this.orders.countPeriod(clientId, period, max + 1).then((count) => {
        if (count > max) throw reportTooLarge(max);
      }),
    ]);
    for (const check of [url, size]) if (check.status === 'rejected') throw check.reason;
  }

  /**
   * With Redis away, the bounds are counted in Postgres, under the client's lock (each admission
   * of the client sees the last one), as exactly but at a cost that grows with the backlog; the
   * fair queue is rebuilt once Redis answers again.
   */
  private async admitWithoutRedis(
    clientId: string,
    dto: CreateReportDto,
    report: NewReport & { id: string },
    replay: Replay,
  ): Promise<CreatedReport> {
    await this.checkSlowParts(clientId, dto, report.timeZone);
    const admitted = await this.dataSource.transaction(async (transaction) => {
      const admission = await this.reports.admission(
        transaction,
        clientId,
        report.idempotencyKey ?? undefined,
        {
          unfinished: this.config.maxUnfinishedPerClient,
          backlog: this.config.queueMax,
        },
      );
      if (admission.existing) return { replayOf: admission.existing };
      if (admission.unfinished >= this.config.maxUnfinishedPerClient) {
        const wait = await this.retryAfter(admission.clientAhead);
        throw tooManyReports(this.config.maxUnfinishedPerClient, wait);
      }
      if (admission.backlog >= this.config.queueMax) {
        throw overloaded(await this.retryAfter(admission.backlog));
      }
      const stored = await this.reports.insert(transaction, clientId, {
        ...report,
        fairRound: null,
      });
      if (!stored) throw new Error('Idempotency-Key conflict under the admission lock');
      return { stored, jobsAhead: admission.backlog };
    });
    if ('replayOf' in admitted) return replay(admitted.replayOf);
    this.queue.admittedWithoutRedis();
    await this.renderQueue.add(admitted.stored.id, admitted.stored.fairRound);
    return {
      report: admitted.stored,
      replayed: false,
      retryAfter: await this.retryAfter(admitted.jobsAhead),
    };
  }

  private async retryAfter(jobsAhead: number | null, progress = 0): Promise<number> {
    return (await this.estimates.estimate(jobsAhead ?? 0, progress)).retryAfter;
  }
}
