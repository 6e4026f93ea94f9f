export enum ReportErrorCode {
  ReportNotFound = 'REPORT_NOT_FOUND',
  ReportNotReady = 'REPORT_NOT_READY',
  ReportExpired = 'REPORT_EXPIRED',
  ReportTooLarge = 'REPORT_TOO_LARGE',
  RenderFailed = 'RENDER_FAILED',
  RenderTimeout = 'RENDER_TIMEOUT',
}
