export enum ReportErrorCode {
  ReportNotFound = 'REPORT_NOT_FOUND',
  ReportNotReady = 'REPORT_NOT_READY',
  ReportFailed = 'REPORT_FAILED',
  ReportExpired = 'REPORT_EXPIRED',
  ReportTooLarge = 'REPORT_TOO_LARGE',
  IdempotencyKeyReused = 'IDEMPOTENCY_KEY_REUSED',
  RenderFailed = 'RENDER_FAILED',
  RenderTimeout = 'RENDER_TIMEOUT',
}
