/** Codes shared by every module; each module keeps its own codes beside its code. */
export enum CommonErrorCode {
  ValidationFailed = 'VALIDATION_FAILED',
  Unauthorized = 'UNAUTHORIZED',
  NotFound = 'NOT_FOUND',
  MethodNotAllowed = 'METHOD_NOT_ALLOWED',
  PayloadTooLarge = 'PAYLOAD_TOO_LARGE',
  UnsupportedMediaType = 'UNSUPPORTED_MEDIA_TYPE',
  RateLimited = 'RATE_LIMITED',
  ServiceUnavailable = 'SERVICE_UNAVAILABLE',
  UnexpectedError = 'UNEXPECTED_ERROR',
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

/** An error meant for the client: its status, code and message are safe to show as they are. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: ErrorDetail[],
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
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
    return new ApiError(400, CommonErrorCode.ValidationFailed, message, details);
  }
}
