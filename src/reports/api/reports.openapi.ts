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
/** An example PDF: its size, pages and SHA-256 (base64url, quoted: its ETag). */
export const PDF_EXAMPLE = {
  pdfSize: 141784,
  pdfPages: 20,
  pdfEtag: '"8AWAvWXxdP0rjnmTjJzJRV8wpVTGBW1Z_1rQnzK0qFs"',
};

/** The `pdf` of a COMPLETED report's status (303) and callback bodies. */
export const PDF_SCHEMA = {
  type: 'object',
  description:
    'The PDF as it was written, to check a download against: its length, page count and SHA-256. ' +
    'The PDF route gives the same digest in Repr-Digest.',
  required: ['bytes', 'pages', 'sha256'],
  properties: {
    bytes: { type: 'integer', description: "Its length: the download's Content-Length" },
    pages: {
      type: 'integer',
      nullable: true,
      description: 'Its page count; null for a report completed before pages were counted',
    },
    sha256: {
      type: 'string',
      pattern: '^[0-9a-f]{64}$',
      description: 'The SHA-256 of its bytes, in lowercase hex (as sha256sum prints it)',
    },
  },
};

/** RFC 9530's Repr-Digest, on every answer that gives the PDF or sends the client to it. */
export const REPR_DIGEST = {
  'Repr-Digest': {
    description:
      "RFC 9530: the PDF's SHA-256 in base64, the same digest as the callback's and the " +
      "status's pdf.sha256 (there in hex)",
    schema: {
      type: 'string',
      example: 'sha-256=:8AWAvWXxdP0rjnmTjJzJRV8wpVTGBW1Z/1rQnzK0qFs=:',
    },
  },
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
    ...(status === ReportStatus.Completed ? PDF_EXAMPLE : {}),
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
    description:
      'wait=N when Prefer: wait=N was honoured; absent when the client or the process already ' +
      'held its most answers (LONG_POLL_MAX_PER_CLIENT, LONG_POLL_MAX_PER_PROCESS)',
    schema: { type: 'string', example: 'wait=10' },
  },
};
/** A body's `links`: where to go next. */
export const LINKS_SCHEMA = {
  type: 'array',
  items: {
    type: 'object',
    properties: { rel: { type: 'string' }, href: { type: 'string' } },
  },
};
const COMPLETED_ANSWER = {
  description: 'Completed: See Other, the PDF',
  headers: {
    Location: { description: 'The PDF', schema: { type: 'string', example: reportPath(ID) } },
    ...PREFERENCE_APPLIED,
  },
  schema: {
    type: 'object',
    required: ['id', 'status', 'time_zone', 'pdf', 'links'],
    properties: {
      id: { type: 'string', format: 'uuid' },
      status: { type: 'string', enum: [ReportStatus.Completed] },
      time_zone: { type: 'string' },
      pdf: PDF_SCHEMA,
      links: LINKS_SCHEMA,
      callback: {
        type: 'object',
        description: 'With a callback_url: how its callback goes',
        properties: { status: { type: 'string' }, attempts: { type: 'integer' } },
      },
    },
    example: statusExample(example(ReportStatus.Completed)),
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
        '503 SERVICE_UNAVAILABLE with Retry-After: 1. With `Prefer: wait=N`, a report that ' +
        'finishes within N seconds is answered in this one request, exactly as the status route ' +
        'would answer it (303 to the PDF, or 200 FAILED).',
    }),
    ApiHeader({
      name: 'Prefer',
      required: false,
      description:
        'RFC 7240. `wait=N` (N ≤ 30): the answer is held until the report finishes or N seconds ' +
        'pass. Finished: what the status route answers (303 to the PDF; 200 FAILED, or EXPIRED ' +
        'for a replay of an expired report); otherwise the 202, as the report stands then. Both ' +
        'with `Preference-Applied: wait=N`; the same caps as the status route (beyond them: the ' +
        '202 at once, without Preference-Applied). An Idempotency-Key replay of a finished report ' +
        'gets its 303 or 200 at once; a report cancelled (DELETE) while its POST is held, 404 ' +
        'REPORT_NOT_FOUND, as from the status route. `respond-async`: the 202 at once, even ' +
        'beside `wait`. A value it cannot read is ignored. No example: left empty, "Try it out" ' +
        'gets the 202 of recipe 1; type `wait=20` to get the PDF in one round trip.',
      schema: { type: 'string' },
    }),
    ApiResponse({
      status: 200,
      description:
        'With Prefer: wait, finished without a PDF: FAILED, with the error (or EXPIRED, for a ' +
        'replay of an expired report), as the status route answers',
      headers: PREFERENCE_APPLIED,
      content: {
        'application/json': {
          examples: {
            FAILED: { value: statusExample(example(ReportStatus.Failed, FAILURE_EXAMPLE)) },
            EXPIRED: { value: statusExample(example(ReportStatus.Expired)) },
          },
        },
      },
    }),
    ApiResponse({
      status: 303,
      ...COMPLETED_ANSWER,
      description: 'With Prefer: wait, completed in time: See Other, the PDF',
    }),
    ApiErrorResponse(404, [errors.reportNotFound()]),
    ApiAcceptedResponse({
      description: 'Accepted: poll the status URL',
      headers: {
        Location: {
          description: 'The status URL',
          schema: { type: 'string', example: statusPath(ID) },
        },
        ...RETRY_AFTER,
        ...PREFERENCE_APPLIED,
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
        "Its body gives the PDF's `pdf`: bytes, pages and SHA-256 (hex), to check the download " +
        'against. FAILED: 200 with the error. Rate limited per API key (RATE_LIMIT_STATUS_PER_MINUTE).',
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
    ApiResponse({ status: 303, ...COMPLETED_ANSWER }),
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
    ApiOperation({
      summary: 'Download the finished PDF',
      description:
        'Repr-Digest (RFC 9530) gives the SHA-256 of the PDF as it was written, in base64, ' +
        'to check the bytes received against; HEAD answers the same headers without the bytes.',
    }),
    ApiResponse({
      status: 200,
      description: 'The PDF',
      headers: {
        'Content-Length': { schema: { type: 'integer' } },
        ETag: { schema: { type: 'string' } },
        ...REPR_DIGEST,
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
        ...REPR_DIGEST,
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
