import { Module } from '@nestjs/common';
import { PdfRenderer } from './pdf-renderer.service';

/** The Chromium pool: in processes that render (the worker part), and their health check. */
@Module({ providers: [PdfRenderer], exports: [PdfRenderer] })
export class RenderingModule {}
