import { Module } from '@nestjs/common';
import { PdfRenderer } from './pdf-renderer.service';

/**
 * The PDF engine, knowing nothing of who asks. DocumentBuilder (template.ts) takes a document's
 * description (DocumentHeader) and its rows (OrderRow) and cuts them into HTML parts; PdfRenderer
 * prints them on warm Chromium pages and joins them, page-numbered, into a PdfSink; any failure
 * is a PdfError ('failed' | 'timeout'). Imported by the processes that render, and their health.
 */
@Module({ providers: [PdfRenderer], exports: [PdfRenderer] })
export class PdfModule {}
