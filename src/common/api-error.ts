/**
 * The codes the framework and the shared layers answer with. Each feature keeps its own codes in its
 * `*.exceptions.ts`; `ERROR_CODES` (error-codes.ts) lists them all.
 */
export enum CommonErrorCode {
  ValidationFailed = 'VALIDATION_FAILED',
  BadRequest = 'BAD_REQUEST',
  Unauthorized = 'UNAUTHORIZED',
  NotFound = 'NOT_FOUND',
  RequestTimeout = 'REQUEST_TIMEOUT',
  PayloadTooLarge = 'PAYLOAD_TOO_LARGE',
  UriTooLong = 'URI_TOO_LONG',
  UnsupportedMediaType = 'UNSUPPORTED_MEDIA_TYPE',
  RateLimited = 'RATE_LIMITED',
  HeadersTooLarge = 'HEADERS_TOO_LARGE',
  UnexpectedError = 'UNEXPECTED_ERROR',
  ServiceUnavailable = 'SERVICE_UNAVAILABLE',
}

export interface ErrorDetail {
  field: string;
  message: string;
}

/** The contract's error body: `{ error_code, error_message, details? }`. */
export interface ErrorBody {
  error_code: string;
  error_message: string;
  details?: ErrorDetail[];
}

export interface ApiErrorOptions {
  /** Only for validation errors: one entry per broken rule. */
  details?: ErrorDetail[];
  /** Headers the answer carries (Retry-After, Link, WWW-Authenticate). */
  headers?: Record<string, string>;
}

/** An error meant for the client: its status, code and message are safe to show as they are. */
export class ApiError extends Error {
  readonly details?: ErrorDetail[];
  readonly headers: Record<string, string>;

  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    options: ApiErrorOptions = {},
  ) {
    super(message);
    this.details = options.details;
    this.headers = options.headers ?? {};
  }

  get body(): ErrorBody {
    return {
      error_code: this.code,
      error_message: this.message,
      ...(this.details ? { details: this.details } : {}),
    };
  }

  static validation(details: ErrorDetail[]): ApiError {
    const first = details[0];
    const message = first ? `${first.field} ${first.message}` : 'The request is not valid';
    return new ApiError(400, CommonErrorCode.ValidationFailed, message, { details });
  }

  /** One field's rule broken: `400 VALIDATION_FAILED` naming it. */
  static invalidField(field: string, message: string): ApiError {
    return ApiError.validation([{ field, message }]);
  }

  static unauthorized(message = 'A valid API key is required (Authorization: Bearer <api_key>)') {
    return new ApiError(401, CommonErrorCode.Unauthorized, message, {
      headers: { 'WWW-Authenticate': 'Bearer' },
    });
  }

  static rateLimited(limitPerMinute: number, retryAfterSeconds: number): ApiError {
    return new ApiError(
      429,
      CommonErrorCode.RateLimited,
      `Rate limit of ${limitPerMinute} requests per minute exceeded; retry after ${retryAfterSeconds} s`,
      { headers: { 'Retry-After': String(retryAfterSeconds) } },
    );
  }

  /** A dependency (Postgres, Redis, DNS) is away: the client should come back later. */
  static unavailable(message: string, retryAfterSeconds = 5): ApiError {
    return new ApiError(503, CommonErrorCode.ServiceUnavailable, message, {
      headers: { 'Retry-After': String(retryAfterSeconds) },
    });
  }
}
