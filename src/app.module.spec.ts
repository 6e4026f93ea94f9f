import { DynamicModule, Type } from '@nestjs/common';
import { AppModule } from './app.module';
import { CallbackDeliveryProcessor } from './callbacks/callback-delivery.processor';
import { PdfModule } from './pdf/pdf.module';
import { ReportsController } from './reports/api/reports.controller';
import { ReportRenderProcessor } from './reports/render/report-render.processor';
import { ReportSweeper } from './reports/sweep/report-sweeper';

/** Every module a module brings in, however deep, with the routes and providers each registers. */
function partsOf(root: DynamicModule) {
  const modules = new Set<unknown>();
  const registered = new Set<unknown>();
  const visit = (entry: Type | DynamicModule | Promise<DynamicModule> | undefined): void => {
    if (!entry || entry instanceof Promise) return;
    const module = 'module' in entry ? entry.module : entry;
    modules.add(module);
    if (!('module' in entry)) return;
    for (const part of [...(entry.controllers ?? []), ...(entry.providers ?? [])]) {
      registered.add(part);
    }
    for (const imported of entry.imports ?? []) visit(imported as DynamicModule);
  };
  visit(root);
  return { modules, registered };
}

describe('AppModule.forRole: each feature registers the parts of the role', () => {
  it('gives an API process its routes, and no Chromium, processor or sweep', () => {
    const api = partsOf(AppModule.forRole('api'));
    expect(api.registered.has(ReportsController)).toBe(true);
    expect(api.modules.has(PdfModule)).toBe(false);
    for (const part of [ReportRenderProcessor, CallbackDeliveryProcessor, ReportSweeper]) {
      expect(api.registered.has(part)).toBe(false);
    }
  });

  it('gives a worker process the renderer, the processors and the sweep, and no routes', () => {
    const worker = partsOf(AppModule.forRole('worker'));
    expect(worker.modules.has(PdfModule)).toBe(true);
    for (const part of [ReportRenderProcessor, CallbackDeliveryProcessor, ReportSweeper]) {
      expect(worker.registered.has(part)).toBe(true);
    }
    expect(worker.registered.has(ReportsController)).toBe(false);
  });

  it('runs both parts in one process by default', () => {
    const all = partsOf(AppModule.forRole('all'));
    expect(all.registered.has(ReportsController) && all.registered.has(ReportSweeper)).toBe(true);
  });
});
