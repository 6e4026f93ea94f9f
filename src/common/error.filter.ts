import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, CommonErrorCode } from './api-error';
import { setSecurityHeaders } from './security-headers';

/** What a client may learn from an HTTP status alone, for errors raised by the framework. */
const BY_STATUS: Record<number, [string, string]> = {
  400: [CommonErrorCode.ValidationFailed, 'The request is not valid'],
  401: [
    CommonErrorCode.Unauthorized,
    'A valid API key is required (Authorization: Bearer <api_key>)',
  ],
  404: [CommonErrorCode.NotFound, 'No such route'],
  413: [CommonErrorCode.PayloadTooLarge, 'The request body is too large'],
  414: [CommonErrorCode.UriTooLong, 'The request URL or one of its path segments is too long'],
  415: [CommonErrorCode.UnsupportedMediaType, 'The body must be application/json'],
  429: [CommonErrorCode.RateLimited, 'Too many requests'],
  503: [CommonErrorCode.ServiceUnavailable, 'The service is temporarily unavailable'],
};

const logger = new Logger('ErrorFilter');

/** Connection-level failures: the database (or another dependency) is away, not the request wrong. */
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  '57P01',
  '57P02',
  '57P03',
]);
const UNAVAILABLE_MESSAGES =
  /Connection terminated|timeout exceeded when trying to connect|connection error|Connection is not established/i;

export function isUnavailable(error: unknown): boolean {
  const { code, message, driverError } = (error ?? {}) as {
    code?: string;
    message?: string;
    driverError?: { code?: string };
  };
  const anyCode = code ?? driverError?.code ?? '';
  return (
    UNAVAILABLE_CODES.has(anyCode) ||
    anyCode.startsWith('08') ||
    UNAVAILABLE_MESSAGES.test(message ?? '')
  );
}

/**
 * What an unexpected error's line shows of it: its type, message and stack, and none of its other
 * fields, which may hold a request's data (a failed query's parameters, a Redis command's arguments).
 */
function describe(error: unknown): { type?: string; message: string; stack?: string } {
  return error instanceof Error
    ? { type: error.name, message: error.message, stack: error.stack }
    : { message: String(error) };
}

/** The request a log line belongs to, as its answer's line names it (request-log.ts). */
const ofRequest = (requestId?: string) => (requestId ? { req: { id: requestId } } : {});

/**
 * Turns anything thrown into the contract's error format. Messages the client sees come only from
 * ApiError or from the table above; anything unexpected is logged with an id and answered as 500.
 * Lines logged here carry the request's id, so they can be found beside its answer's line.
 */
export function toApiError(error: unknown, requestId?: string): ApiError {
  if (error instanceof ApiError) return error;
  if (!(error instanceof HttpException) && isUnavailable(error)) {
    logger.warn({
      ...ofRequest(requestId),
      msg: `Dependency unavailable: ${error instanceof Error ? error.message : String(error)}`,
    });
    return ApiError.unavailable(BY_STATUS[503][1]);
  }
  const status =
    error instanceof HttpException
      ? error.getStatus()
      : Number((error as { statusCode?: unknown })?.statusCode) || 500;
  if (status < 500 && BY_STATUS[status]) {
    const [code, message] = BY_STATUS[status];
    return new ApiError(status, code, message);
  }
  if (status >= 400 && status < 500) {
    // A 4xx the framework raises and the table does not know (none is known to reach here).
    return new ApiError(status, `HTTP_${status}`, 'The request could not be processed');
  }
  if (status === 503) return ApiError.unavailable(BY_STATUS[503][1]);
  const errorId = randomUUID();
  logger.error({
    ...ofRequest(requestId),
    err: describe(error),
    msg: `Unexpected error ${errorId}`,
  });
  return new ApiError(
    500,
    CommonErrorCode.UnexpectedError,
    `An unexpected error occurred (error id ${errorId})`,
  );
}

/**
 * Writes an ApiError as the contract's error answer. The one writer of error answers: the filter
 * below, Fastify's hooks and handlers outside Nest, the queue dashboard.
 */
export function sendApiError(reply: FastifyReply, apiError: ApiError): void {
  void reply
    .status(apiError.status)
    .headers(apiError.headers)
    .header('content-type', 'application/json; charset=utf-8')
    .send(apiError.body);
}

/**
 * Fastify's own routing errors (a malformed URL, a path segment too long), before Nest and before
 * any hook: the security headers are set here.
 */
export function frameworkErrorHandler(
  error: { code?: string },
  request: FastifyRequest,
  reply: FastifyReply,
) {
  setSecurityHeaders(request, reply);
  sendApiError(
    reply,
    error.code === 'FST_ERR_BAD_URL' ? malformedPath() : toApiError(error, request.id),
  );
}

/** A path that is not valid percent-encoding (`/v1/orders/%zz`). */
export const malformedPath = () => ApiError.invalidField('path', 'is not a valid URL');

/** The answer to a request Node's HTTP server refuses, by the error it gives. */
export function refusal(code: string | undefined): ApiError {
  return code === 'HPE_HEADER_OVERFLOW'
    ? new ApiError(431, CommonErrorCode.HeadersTooLarge, 'The request headers are too large')
    : code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? new ApiError(408, CommonErrorCode.RequestTimeout, 'The request did not arrive in time')
      : new ApiError(400, CommonErrorCode.BadRequest, 'The request is not valid HTTP');
}

/**
 * Requests Node's HTTP server refuses before any route sees them: headers too large, not HTTP, or
 * not received within HTTP_REQUEST_TIMEOUT_MS (a slow client holding a connection). A raw answer,
 * same format, and the connection closed.
 */
export function clientErrorHandler(error: { code?: string }, socket: Duplex): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const answer = refusal(error.code);
  const body = JSON.stringify(answer.body);
  socket.end(
    `HTTP/1.1 ${answer.status} ${STATUS_CODES[answer.status]}\r\n` +
      `Content-Type: application/json; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

@Catch()
export class ErrorFilter implements ExceptionFilter {
  catch(error: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    sendApiError(
      http.getResponse<FastifyReply>(),
      toApiError(error, http.getRequest<FastifyRequest>().id),
    );
  }
}
