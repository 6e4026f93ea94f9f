import { applyDecorators } from '@nestjs/common';
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
import { CallbackStatus } from '../../callbacks/callback-event.entity';
import { callbackNotFound, callbackUrlNotAllowed } from '../../callbacks/callbacks.exceptions';
import { ApiError } from '../../common/api-error';
import { ApiCommonErrors, ApiErrorResponse, RETRY_AFTER } from '../../common/openapi';
import { acceptedAnswer, listedAttempt, listedReport, statusAnswer } from './dto/report.response';
import { ReadReport, ReportStatus } from '../store/report.entity';
import { pdfFilename, reportPath, statusPath } from '../store/report-links';
import * as errors from '../store/report-errors';

/**
 * The OpenAPI description of the report routes. The examples are what the service's own mappers
 * and error factories make of an example report, so that they cannot drift from the answers.
 */

export const ID = '3f2b9c3e-5d7a-4b8e-9f1a-0c6d2e4b8a71';
export const FAILURE_EXAMPLE = {
  errorCode: 'RENDER_FAILED',
  errorMessage: 'The PDF could not be rendered',
};
const example = (status: ReportStatus, fields: Partial<ReadReport> = {}): ReadReport =>
  ({
    id: ID,
    status,
    startDate: '2021-10-01',
    endDate: '2021-11-01',
    timeZone: 'Europe/Paris',
    progress: 40,
    callbackUrl: null,
    createdAt: new Date('2021-11-02T09:00:00Z'),
    completedAt: null,
    ...fields,
  }) as ReadReport;
const statusExample = (report: ReadReport, place = 0) =>
  statusAnswer({
    report,
    place,
    estimate: { retryAfter: 2, completionAt: new Date('2021-11-02T09:00:05Z') },
  }).body;

const PREFERENCE_APPLIED = {
  'Preference-Applied': {
    description: 'wait=N when the request carried Prefer: wait=N',
    schema: { type: 'string', example: 'wait=10' },
  },
};
const ID_PARAM = ApiParam({ name: 'id', format: 'uuid', example: ID });
const NOT_FOUND = ApiErrorResponse(404, [errors.reportNotFound()]);

/** Every route under /v1/orders/reports. */
export const ReportRoutes = () =>
  applyDecorators(ApiTags('reports'), ApiBearerAuth(), ApiCommonErrors());

export const CreateReportDocs = () =>
  applyDecorators(
    ApiOperation({
      summary: 'Ask for a PDF export of the orders placed in a period',
      description:
        'Answers at once with 202: the PDF is rendered by a queue worker. Poll the `Location` ' +
        '(recipe 1) until it answers 303 See Other to the PDF. Clients are served in turn: a ' +
        "client's n-th unfinished report renders after every other client's earlier ones. A " +
        'client may have REPORT_MAX_UNFINISHED_PER_CLIENT reports unfinished (beyond: 429 ' +
        'TOO_MANY_REPORTS), and when REPORT_QUEUE_MAX reports wait for a render new ones are ' +
        'refused (503 OVERLOADED), both with Retry-After; an Idempotency-Key replay never is. ' +
        'Right after Redis lost the queue, for the moment its numbers are rebuilt from Postgres: ' +
        '503 SERVICE_UNAVAILABLE with Retry-After: 1.',
    }),
    ApiAcceptedResponse({
      description: 'Accepted: poll the status URL',
      headers: {
        Location: {
          description: 'The status URL',
          schema: { type: 'string', example: statusPath(ID) },
        },
        ...RETRY_AFTER,
        'Idempotent-Replayed': {
          description:
            '`true` when an Idempotency-Key replay answered an existing report; its body then ' +
            "gives the report's current status, which may be past PENDING",
          schema: { type: 'string', enum: ['true'] },
        },
      },
      schema: { example: acceptedAnswer(example(ReportStatus.Pending), 2, false).body },
    }),
    ApiErrorResponse(400, [
      ApiError.invalidField('end_date', 'must be after start_date'),
      callbackUrlNotAllowed(
        'callback_url must not point at a private, loopback, link-local or reserved address',
      ),
    ]),
    ApiHeader({
      name: 'Idempotency-Key',
      required: false,
      description:
        'Makes the request safe to retry: the same key with the same body within 24 hours ' +
        'answers the same report (with Idempotent-Replayed: true); with another body, 422.',
      schema: { type: 'string', maxLength: 255 },
    }),
    ApiErrorResponse(422, [errors.idempotencyKeyReused(), errors.reportTooLarge(100000)]),
    ApiErrorResponse(
      429,
      [ApiError.rateLimited(600, 12), errors.tooManyReports(20, 4)],
      RETRY_AFTER,
    ),
    ApiErrorResponse(
      503,
      [ApiError.unavailable('The service is temporarily unavailable'), errors.overloaded(2)],
      RETRY_AFTER,
    ),
  );

export const ListReportsDocs = () =>
  applyDecorators(
    ApiOperation({ summary: "List the client's reports, newest first" }),
    ApiOkResponse({
      schema: {
        example: {
          data: [
            listedReport(
              example(ReportStatus.Completed, { completedAt: new Date('2021-11-02T09:00:03Z') }),
            ),
          ],
          next_cursor: null,
        },
      },
    }),
    ApiErrorResponse(400, [
      ApiError.invalidField('status', 'must be one of the following values: …'),
    ]),
  );

export const DeleteReportDocs = () =>
  applyDecorators(
    ID_PARAM,
    ApiOperation({
      summary: "Cancel an unfinished report, or delete a finished one's PDF",
      description:
        'An unfinished report (PENDING, IN_PROGRESS) is cancelled: its render stops and it ' +
        'answers 404 REPORT_NOT_FOUND everywhere afterwards. A COMPLETED report loses its PDF and ' +
        'becomes EXPIRED, as it would after REPORT_TTL_HOURS: the status route answers 200 ' +
        '{"id", "status": "EXPIRED"}, the PDF route 410 REPORT_EXPIRED, and its callback history ' +
        'stays. A FAILED or EXPIRED report has no PDF: 204, nothing changes.',
    }),
    ApiResponse({ status: 204, description: 'Cancelled, or its PDF deleted' }),
    NOT_FOUND,
  );

export const ReportStatusDocs = () =>
  applyDecorators(
    ID_PARAM,
    ApiHeader({
      name: 'Prefer',
      required: false,
      description:
        'RFC 7240 `wait=N` (N ≤ 30): the answer is held until the status changes or N seconds ' +
        'pass, and carries `Preference-Applied: wait=N`.',
      schema: { type: 'string', example: 'wait=10' },
    }),
    ApiOperation({
      summary: 'Poll a report (recipe 1)',
      description:
        'PENDING or IN_PROGRESS: 200 with Retry-After, `queue_position` (how many reports render ' +
        'before it in the fair order; 0 while it renders) and `estimated_completion_at` (ISO ' +
        '8601, from the same estimate as Retry-After: the reports ahead at the recent render ' +
        'speed); both null when the queue cannot be reached. COMPLETED: 303 See Other to the PDF. ' +
        'FAILED: 200 with the error. Rate limited per API key (RATE_LIMIT_STATUS_PER_MINUTE).',
    }),
    ApiResponse({
      status: 200,
      description: 'Not finished (with Retry-After), failed (with the error) or expired',
      headers: { ...RETRY_AFTER, ...PREFERENCE_APPLIED },
      content: {
        'application/json': {
          examples: {
            PENDING: {
              summary: 'Waiting: 12 reports render before it',
              value: statusExample(example(ReportStatus.Pending, { progress: 0 }), 12),
            },
            IN_PROGRESS: { value: statusExample(example(ReportStatus.InProgress)) },
            FAILED: { value: statusExample(example(ReportStatus.Failed, FAILURE_EXAMPLE)) },
            EXPIRED: { value: statusExample(example(ReportStatus.Expired)) },
            WITH_CALLBACK_URL: {
              summary: 'A report with a callback_url also says how its callback goes',
              value: statusExample(
                example(ReportStatus.Failed, {
                  ...FAILURE_EXAMPLE,
                  callbackUrl: 'https://partner.example/cb',
                  callback: { status: CallbackStatus.Delivered, attempts: 2 },
                }),
              ),
            },
          },
        },
      },
    }),
    ApiResponse({
      status: 303,
      description: 'Completed: See Other, the PDF',
      headers: {
        Location: { description: 'The PDF', schema: { type: 'string', example: reportPath(ID) } },
        ...PREFERENCE_APPLIED,
      },
      schema: { example: statusExample(example(ReportStatus.Completed)) },
    }),
    NOT_FOUND,
  );

export const CallbackAttemptsDocs = () =>
  applyDecorators(
    ID_PARAM,
    ApiOperation({ summary: "Every attempt to deliver the report's callback (recipe 2)" }),
    ApiOkResponse({
      schema: {
        example: {
          data: [
            { at: '2021-11-02T09:00:05Z', statusCode: 503, durationMs: 120, error: 'HTTP 503' },
            { at: '2021-11-02T09:00:10Z', statusCode: 200, durationMs: 85, error: null },
          ].map((attempt, i) =>
            listedAttempt({ ...attempt, attempt: i + 1, at: new Date(attempt.at) } as never),
          ),
        },
      },
    }),
    NOT_FOUND,
  );

export const RedeliverDocs = () =>
  applyDecorators(
    ID_PARAM,
    ApiOperation({ summary: 'Send the callback again, with the same webhook-id' }),
    ApiAcceptedResponse({
      schema: { example: { id: ID, callback: { status: CallbackStatus.Pending, attempts: 3 } } },
    }),
    ApiErrorResponse(404, [errors.reportNotFound(), callbackNotFound()]),
  );

export const DownloadReportDocs = () =>
  applyDecorators(
    ID_PARAM,
    ApiOperation({ summary: 'Download the finished PDF' }),
    ApiResponse({
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
    }),
    ApiResponse({ status: 304, description: 'Not modified (If-None-Match matched the ETag)' }),
    ApiResponse({
      status: 307,
      description:
        'With REPORT_DOWNLOAD=redirect (PDFs in object storage): the PDF is at `Location`, a ' +
        'presigned URL of its object, valid for a few minutes and fetched without the API key',
      headers: {
        Location: {
          description: 'A presigned URL of the PDF',
          schema: {
            type: 'string',
            format: 'uri',
            example:
              'https://reports.s3.eu-west-3.amazonaws.com/pdfs/8f0e6b52-0f3c-4d7e-9b1a-2c5d7e9f1a3b/1.pdf?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=300&X-Amz-Signature=5d41402abc4b2a76b9719d911017c592',
          },
        },
        'Cache-Control': { schema: { type: 'string', example: 'private, no-store' } },
      },
    }),
    ApiErrorResponse(
      404,
      [
        errors.reportNotFound(),
        errors.reportNotReady(ID),
        errors.reportFailed(ID, 'RENDER_FAILED'),
      ],
      {
        Link: {
          description:
            'With REPORT_NOT_READY and REPORT_FAILED: the status route (to poll, or that says why it failed)',
          schema: { type: 'string', example: `<${statusPath(ID)}>; rel="status"` },
        },
      },
    ),
    ApiErrorResponse(410, [errors.reportExpired()]),
  );
