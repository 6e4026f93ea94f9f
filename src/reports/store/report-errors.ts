import { ApiError } from '../../common/api-error';
import { statusPath } from './report-links';

export enum ReportErrorCode {
  ReportNotFound = 'REPORT_NOT_FOUND',
  ReportNotReady = 'REPORT_NOT_READY',
  ReportFailed = 'REPORT_FAILED',
  ReportExpired = 'REPORT_EXPIRED',
  ReportTooLarge = 'REPORT_TOO_LARGE',
  IdempotencyKeyReused = 'IDEMPOTENCY_KEY_REUSED',
  TooManyReports = 'TOO_MANY_REPORTS',
  Overloaded = 'OVERLOADED',
  /** A failed report's own error codes, in its status and callback bodies. */
  RenderFailed = 'RENDER_FAILED',
  RenderTimeout = 'RENDER_TIMEOUT',
}

const statusLink = (reportId: string) => ({ Link: `<${statusPath(reportId)}>; rel="status"` });

export const reportNotFound = () =>
  new ApiError(404, ReportErrorCode.ReportNotFound, 'No such report');

/** 404 REPORT_NOT_READY, with the status route to poll in its Link header. */
export const reportNotReady = (reportId: string) =>
  new ApiError(
    404,
    ReportErrorCode.ReportNotReady,
    'The report is not ready yet; see the Link header for its status',
    { headers: statusLink(reportId) },
  );

/** A FAILED report will never have a PDF: its status route says why. */
export const reportFailed = (reportId: string, errorCode: string | null) =>
  new ApiError(
    404,
    ReportErrorCode.ReportFailed,
    `The report failed (${errorCode}) and has no PDF; see the Link header for its status`,
    { headers: statusLink(reportId) },
  );

export const reportExpired = () =>
  new ApiError(410, ReportErrorCode.ReportExpired, 'The report has expired; ask for a new one');

export const reportTooLarge = (maxOrders: number) =>
  new ApiError(
    422,
    ReportErrorCode.ReportTooLarge,
    `The period holds more than ${maxOrders} orders; ask for a shorter period`,
  );

export const idempotencyKeyReused = () =>
  new ApiError(
    422,
    ReportErrorCode.IdempotencyKeyReused,
    'This Idempotency-Key was used with a different body in the last 24 hours',
  );

/** The client has REPORT_MAX_UNFINISHED_PER_CLIENT reports unfinished: one must finish first. */
export const tooManyReports = (max: number, retryAfterSeconds: number) =>
  new ApiError(
    429,
    ReportErrorCode.TooManyReports,
    `You have ${max} reports unfinished, the most a client may have; retry after ${retryAfterSeconds} s`,
    { headers: { 'Retry-After': String(retryAfterSeconds) } },
  );

/** REPORT_QUEUE_MAX reports wait for a render: new ones are refused, not absorbed. */
/** Another API process rebuilds the fair queue's numbers from Postgres (after Redis lost them). */
export const queueRebuilding = () =>
  ApiError.unavailable('The report queue is being rebuilt; try again in a second', 1);

export const overloaded = (retryAfterSeconds: number) =>
  new ApiError(
    503,
    ReportErrorCode.Overloaded,
    `Too many reports are waiting to be rendered; retry after ${retryAfterSeconds} s`,
    { headers: { 'Retry-After': String(retryAfterSeconds) } },
  );
