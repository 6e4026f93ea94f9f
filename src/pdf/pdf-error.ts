/** A render that failed, at any step ('timeout': past its deadline). Never quotes the document. */
export class PdfError extends Error {
  constructor(
    readonly kind: 'failed' | 'timeout',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'PdfError';
  }
}
