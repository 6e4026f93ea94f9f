import { ReportErrorCode } from '../reports/store/report-errors';

/** A render that failed. The message never contains the document. */
export class RenderError extends Error {
  constructor(
    readonly code: ReportErrorCode.RenderFailed | ReportErrorCode.RenderTimeout,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'RenderError';
  }
}
