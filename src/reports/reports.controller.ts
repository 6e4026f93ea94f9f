import {
  Body,
  Controller,
  Delete,
  Get,
  Headers,
  HttpCode,
  Param,
  Post,
  Query,
  Req,
  Res,
  StreamableFile,
} from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBearerAuth,
  ApiHeader,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiResponse,
  ApiTags,
} from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { CallbackStatus } from '../callbacks/callback-event.entity';
import { CallbacksService } from '../callbacks/callbacks.service';
import { ApiError } from '../common/api-error';
import { AuthenticatedClient, CurrentClient } from '../common/auth.guard';
import { ApiCommonErrors, ApiErrorResponse, RETRY_AFTER } from '../common/openapi';
import { StatusPollingLimit } from '../common/rate-limit';
import { CreateReportDto } from './dto/create-report.dto';
import { ListReportsQuery } from './dto/list-reports.query';
import { FINISHED_STATUSES, Report, ReportStatus } from './report.entity';
import { ReportEvents } from './report-events';
import { preferredWait } from './prefer-wait';
import { ReportErrorCode } from './report-errors';
import { pdfFilename, reportPath, statusPath } from './report-links';
import { ReadReport, ReportsService } from './reports.service';

const ID = '3f2b9c3e-5d7a-4b8e-9f1a-0c6d2e4b8a71';
const PREFERENCE_APPLIED = {
  'Preference-Applied': {
    description: 'wait=N when the request carried Prefer: wait=N',
    schema: { type: 'string', example: 'wait=10' },
  },
};
const ID_PARAM = ApiParam({ name: 'id', format: 'uuid', example: ID });
/** The status route's answer for a report whose render failed. */
const FAILED_BODY = {
  id: ID,
  status: 'FAILED',
  error: { error_code: 'RENDER_FAILED', error_message: 'The PDF could not be rendered' },
};
/** RFC-style opaque key: visible ASCII, as Stripe and the IETF draft use it. */
const IDEMPOTENCY_KEY = /^[\x21-\x7E]{1,255}$/;

/** 404 REPORT_NOT_READY, with the status route to poll in its Link header. */
function notReady(report: Report): ApiError {
  return new ApiError(
    404,
    ReportErrorCode.ReportNotReady,
    'The report is not ready yet; see the Link header for its status',
    undefined,
    { Link: `<${statusPath(report.id)}>; rel="status"` },
  );
}

/** Why the PDF route has no PDF to give for this report, or undefined when it has one. */
function noPdf(report: Report): ApiError | undefined {
  switch (report.status) {
    case ReportStatus.Completed:
      return report.pdfEtag ? undefined : notReady(report);
    case ReportStatus.Expired:
      return new ApiError(
        410,
        ReportErrorCode.ReportExpired,
        'The report has expired; ask for a new one',
      );
    case ReportStatus.Failed:
      return new ApiError(
        404,
        ReportErrorCode.ReportFailed,
        `The report failed (${report.errorCode}) and has no PDF; see the Link header for its status`,
        undefined,
        { Link: `<${statusPath(report.id)}>; rel="status"` },
      );
    default:
      return notReady(report);
  }
}

@ApiTags('reports')
@ApiBearerAuth()
@ApiCommonErrors()
@Controller('v1/orders/reports')
export class ReportsController {
  constructor(
    private readonly reports: ReportsService,
    private readonly callbacks: CallbacksService,
    private readonly events: ReportEvents,
  ) {}

  @Post()
  @HttpCode(202)
  @ApiOperation({
    summary: 'Ask for a PDF export of the orders placed in a period',
    description:
      'Answers at once with 202: the PDF is rendered by a queue worker. Poll the `Location` ' +
      '(recipe 1) until it answers 303 See Other to the PDF.',
  })
  @ApiAcceptedResponse({
    description: 'Accepted: poll the status URL',
    headers: {
      Location: {
        description: 'The status URL',
        schema: { type: 'string', example: statusPath(ID) },
      },
      ...RETRY_AFTER,
      'Idempotent-Replayed': {
        description:
          '`true` when an Idempotency-Key replay answered an existing report; its body then gives ' +
          "the report's current status, which may be past PENDING",
        schema: { type: 'string', enum: ['true'] },
      },
    },
    schema: {
      example: { id: ID, status: 'PENDING', links: [{ rel: 'status', href: statusPath(ID) }] },
    },
  })
  @ApiErrorResponse(400, {
    VALIDATION_FAILED: 'end_date must be after start_date',
    CALLBACK_URL_NOT_ALLOWED:
      'callback_url must not point at a private, loopback, link-local or reserved address',
  })
  @ApiHeader({
    name: 'Idempotency-Key',
    required: false,
    description:
      'Makes the request safe to retry: the same key with the same body within 24 hours answers ' +
      'the same report (with Idempotent-Replayed: true); with another body, 422.',
    schema: { type: 'string', maxLength: 255 },
  })
  @ApiErrorResponse(422, {
    IDEMPOTENCY_KEY_REUSED:
      'This Idempotency-Key was used with a different body in the last 24 hours',
    REPORT_TOO_LARGE: 'The period holds more than 100000 orders; ask for a shorter period',
  })
  async create(
    @CurrentClient() client: AuthenticatedClient,
    @Body() dto: CreateReportDto,
    @Headers('idempotency-key') idempotencyKey: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    if (idempotencyKey !== undefined && !IDEMPOTENCY_KEY.test(idempotencyKey)) {
      throw ApiError.validation([
        { field: 'Idempotency-Key', message: 'must be 1 to 255 visible ASCII characters' },
      ]);
    }
    const { report, replayed } = await this.reports.create(client.id, dto, idempotencyKey);
    if (replayed) void reply.header('Idempotent-Replayed', 'true');
    void reply
      .header('Location', statusPath(report.id))
      .header('Retry-After', String(await this.reports.retryAfter(report)));
    return {
      id: report.id,
      status: report.status,
      links: [{ rel: 'status', href: statusPath(report.id) }],
    };
  }

  @Get()
  @ApiOperation({ summary: "List the client's reports, newest first" })
  @ApiOkResponse({
    schema: {
      example: {
        data: [
          {
            id: ID,
            status: 'COMPLETED',
            start_date: '2021-10-01',
            end_date: '2021-11-01',
            created_at: '2021-11-02T09:00:00.000Z',
            completed_at: '2021-11-02T09:00:03.000Z',
            links: [{ rel: 'status', href: statusPath(ID) }],
          },
        ],
        next_cursor: null,
      },
    },
  })
  @ApiErrorResponse(400, { VALIDATION_FAILED: 'status must be one of the following values: …' })
  async list(@CurrentClient() client: AuthenticatedClient, @Query() query: ListReportsQuery) {
    const page = await this.reports.list(client.id, query);
    return {
      data: page.data.map((report) => ({
        id: report.id,
        status: report.status,
        start_date: report.startDate,
        end_date: report.endDate,
        ...(report.callbackUrl ? { callback_url: report.callbackUrl } : {}),
        created_at: report.createdAt.toISOString(),
        completed_at: report.completedAt?.toISOString() ?? null,
        links: [{ rel: 'status', href: statusPath(report.id) }],
      })),
      next_cursor: page.next_cursor,
    };
  }

  @Delete(':id')
  @HttpCode(204)
  @ID_PARAM
  @ApiOperation({
    summary: "Cancel an unfinished report, or delete a finished one's PDF",
    description:
      'An unfinished report (PENDING, IN_PROGRESS) is cancelled: its render stops and it answers ' +
      '404 REPORT_NOT_FOUND everywhere afterwards. A COMPLETED report loses its PDF and becomes ' +
      'EXPIRED, as it would after REPORT_TTL_HOURS: the status route answers 200 ' +
      '{"id", "status": "EXPIRED"}, the PDF route 410 REPORT_EXPIRED, and its callback history ' +
      'stays. A FAILED or EXPIRED report has no PDF: 204, nothing changes.',
  })
  @ApiResponse({ status: 204, description: 'Cancelled, or its PDF deleted' })
  @ApiErrorResponse(404, { REPORT_NOT_FOUND: 'No such report' })
  async remove(
    @CurrentClient() client: AuthenticatedClient,
    @Param('id') id: string,
  ): Promise<void> {
    const report = await this.reports.findForClient(client.id, id);
    await this.reports.remove(report);
    await this.events.changed(report.id); // a status request held on it answers 404 or EXPIRED
  }

  @Get('status/:id')
  @StatusPollingLimit()
  @ID_PARAM
  @ApiHeader({
    name: 'Prefer',
    required: false,
    description:
      'RFC 7240 `wait=N` (N ≤ 30): the answer is held until the status changes or N seconds pass, ' +
      'and carries `Preference-Applied: wait=N`.',
    schema: { type: 'string', example: 'wait=10' },
  })
  @ApiOperation({
    summary: 'Poll a report (recipe 1)',
    description:
      'PENDING or IN_PROGRESS: 200 with Retry-After. COMPLETED: 303 See Other to the PDF. ' +
      'FAILED: 200 with the error. Rate limited per API key (RATE_LIMIT_STATUS_PER_MINUTE).',
  })
  @ApiResponse({
    status: 200,
    description: 'Not finished (with Retry-After), failed (with the error) or expired',
    headers: { ...RETRY_AFTER, ...PREFERENCE_APPLIED },
    content: {
      'application/json': {
        examples: {
          IN_PROGRESS: {
            value: {
              id: ID,
              status: 'IN_PROGRESS',
              progress: 40,
              created_at: '2021-11-02T09:00:00.000Z',
            },
          },
          FAILED: { value: FAILED_BODY },
          EXPIRED: { value: { id: ID, status: 'EXPIRED' } },
          WITH_CALLBACK_URL: {
            summary: 'A report with a callback_url also says how its callback goes',
            value: { ...FAILED_BODY, callback: { status: 'DELIVERED', attempts: 2 } },
          },
        },
      },
    },
  })
  @ApiResponse({
    status: 303,
    description: 'Completed: See Other, the PDF',
    headers: {
      Location: { description: 'The PDF', schema: { type: 'string', example: reportPath(ID) } },
      ...PREFERENCE_APPLIED,
    },
    schema: {
      example: { id: ID, status: 'COMPLETED', links: [{ rel: 'reports', href: reportPath(ID) }] },
    },
  })
  @ApiErrorResponse(404, { REPORT_NOT_FOUND: 'No such report' })
  async status(
    @CurrentClient() client: AuthenticatedClient,
    @Param('id') id: string,
    @Headers('prefer') prefer: string | undefined,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    const read = () => this.reports.findForClient(client.id, id);
    const wait = preferredWait(prefer);
    let report: ReadReport;
    if (wait === undefined) {
      report = await read();
    } else {
      // Held until the status changes or `wait` seconds pass; a client that leaves ends the wait.
      // Registered for the change before the first read: one landing after the read still wakes it.
      const left = new AbortController();
      const onClose = () => left.abort();
      request.raw.once('close', onClose);
      const change = await this.events.changes(id, left.signal);
      try {
        report = await read();
        if (!FINISHED_STATUSES.includes(report.status)) {
          await change.wait(wait * 1000);
          report = await read();
        }
      } finally {
        change.dispose();
        request.raw.off('close', onClose);
      }
      void reply.header('Preference-Applied', `wait=${wait}`);
    }
    const body = await this.statusBody(report, reply);
    return report.callbackUrl
      ? { ...body, callback: report.callback ?? { status: CallbackStatus.Pending, attempts: 0 } }
      : body;
  }

  @Get(':id/callbacks')
  @ID_PARAM
  @ApiOperation({ summary: "Every attempt to deliver the report's callback (recipe 2)" })
  @ApiOkResponse({
    schema: {
      example: {
        data: [
          {
            attempt: 1,
            at: '2021-11-02T09:00:05.000Z',
            status_code: 503,
            duration_ms: 120,
            error: 'HTTP 503',
          },
          {
            attempt: 2,
            at: '2021-11-02T09:00:10.000Z',
            status_code: 200,
            duration_ms: 85,
            error: null,
          },
        ],
      },
    },
  })
  @ApiErrorResponse(404, { REPORT_NOT_FOUND: 'No such report' })
  async callbackAttempts(@CurrentClient() client: AuthenticatedClient, @Param('id') id: string) {
    const report = await this.reports.findForClient(client.id, id);
    const attempts = await this.callbacks.attempts(report.id);
    return {
      data: attempts.map((a) => ({
        attempt: a.attempt,
        at: a.at.toISOString(),
        status_code: a.statusCode,
        duration_ms: a.durationMs,
        error: a.error,
      })),
    };
  }

  @Post(':id/callbacks/redeliver')
  @HttpCode(202)
  @ID_PARAM
  @ApiOperation({ summary: 'Send the callback again, with the same webhook-id' })
  @ApiAcceptedResponse({
    schema: { example: { id: ID, callback: { status: 'PENDING', attempts: 3 } } },
  })
  @ApiErrorResponse(404, {
    REPORT_NOT_FOUND: 'No such report',
    CALLBACK_NOT_FOUND:
      'This report has no callback to send: it has no callback_url, or it has not finished yet',
  })
  async redeliver(@CurrentClient() client: AuthenticatedClient, @Param('id') id: string) {
    const report = await this.reports.findForClient(client.id, id);
    const event = await this.callbacks.redeliver(report.id);
    return {
      id: report.id,
      callback: { status: CallbackStatus.Pending, attempts: event.attempts },
    };
  }

  @Get(':id')
  @ID_PARAM
  @ApiOperation({ summary: 'Download the finished PDF' })
  @ApiResponse({
    status: 200,
    description: 'The PDF',
    headers: {
      'Content-Length': { schema: { type: 'integer' } },
      ETag: { schema: { type: 'string' } },
      'Content-Disposition': {
        schema: {
          type: 'string',
          example: `attachment; filename="${pdfFilename('2021-10-01', '2021-11-01')}"`,
        },
      },
    },
    content: { 'application/pdf': { schema: { type: 'string', format: 'binary' } } },
  })
  @ApiResponse({ status: 304, description: 'Not modified (If-None-Match matched the ETag)' })
  @ApiErrorResponse(
    404,
    {
      REPORT_NOT_FOUND: 'No such report',
      REPORT_NOT_READY: 'The report is not ready yet; see the Link header for its status',
      REPORT_FAILED:
        'The report failed (RENDER_FAILED) and has no PDF; see the Link header for its status',
    },
    {
      Link: {
        description:
          'With REPORT_NOT_READY and REPORT_FAILED: the status route (to poll, or that says why it failed)',
        schema: { type: 'string', example: `<${statusPath(ID)}>; rel="status"` },
      },
    },
  )
  @ApiErrorResponse(410, { REPORT_EXPIRED: 'The report has expired; ask for a new one' })
  async download(
    @CurrentClient() client: AuthenticatedClient,
    @Param('id') id: string,
    @Headers('if-none-match') ifNoneMatch: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    const report = await this.reports.findForClient(client.id, id);
    const missing = noPdf(report);
    if (missing) throw missing;
    const etag = report.pdfEtag!;
    if (ifNoneMatch?.split(',').some((tag) => tag.trim() === etag)) {
      void reply.status(304).header('ETag', etag);
      return '';
    }
    const pdf = await this.reports.pdf(report);
    if (!pdf) {
      // Expired or deleted since it was read: answered as the report stands now (410, 404). Still
      // COMPLETED without its PDF is a state the service never leaves a report in: a 500.
      throw (
        noPdf(await this.reports.findForClient(client.id, id)) ??
        new Error(`Report ${id} is COMPLETED and its PDF is not stored`)
      );
    }
    void reply
      .header('ETag', etag)
      .header('Content-Type', 'application/pdf')
      .header('Content-Length', String(report.pdfSize))
      .header(
        'Content-Disposition',
        `attachment; filename="${pdfFilename(report.startDate, report.endDate)}"`,
      )
      .header('Cache-Control', 'private, max-age=0, must-revalidate');
    return new StreamableFile(pdf);
  }

  private async statusBody(report: Report, reply: FastifyReply) {
    switch (report.status) {
      case ReportStatus.Completed:
        void reply.status(303).header('Location', reportPath(report.id));
        return {
          id: report.id,
          status: report.status,
          links: [{ rel: 'reports', href: reportPath(report.id) }],
        };
      case ReportStatus.Failed:
        return {
          id: report.id,
          status: report.status,
          error: { error_code: report.errorCode, error_message: report.errorMessage },
        };
      case ReportStatus.Expired:
        return { id: report.id, status: report.status };
      default:
        void reply.header('Retry-After', String(await this.reports.retryAfter(report)));
        return {
          id: report.id,
          status: report.status,
          progress: report.progress,
          created_at: report.createdAt.toISOString(),
        };
    }
  }
}
