import { DynamicModule, Type } from '@nestjs/common';
import { AppModule, ApiModule, WorkerModule } from './app.module';
import { PdfModule } from './pdf/pdf.module';

/** Every module class a module brings in, however deep (static and dynamic imports alike). */
function modulesOf(root: DynamicModule): Set<unknown> {
  const found = new Set<unknown>();
  const visit = (entry: Type | DynamicModule | Promise<DynamicModule> | undefined): void => {
    if (!entry || entry instanceof Promise) return;
    const module = 'module' in entry ? entry.module : entry;
    const imports = [
      ...(Reflect.getMetadata('imports', module) ?? []),
      ...('module' in entry ? (entry.imports ?? []) : []),
    ];
    if (found.has(module) && !('module' in entry)) return;
    found.add(module);
    imports.forEach(visit);
  };
  visit(root);
  return found;
}

describe('AppModule.forRole: a process runs the parts of its role', () => {
  it('gives an API process no Chromium and no worker, so an API machine needs none', () => {
    const api = modulesOf(AppModule.forRole('api'));
    expect(api.has(ApiModule)).toBe(true);
    expect(api.has(WorkerModule)).toBe(false);
    expect(api.has(PdfModule)).toBe(false);
  });

  it('gives a worker process the renderer and no API routes', () => {
    const worker = modulesOf(AppModule.forRole('worker'));
    expect(worker.has(WorkerModule)).toBe(true);
    expect(worker.has(PdfModule)).toBe(true);
    expect(worker.has(ApiModule)).toBe(false);
  });

  it('runs both parts in one process by default', () => {
    const all = modulesOf(AppModule.forRole('all'));
    expect(all.has(ApiModule) && all.has(WorkerModule)).toBe(true);
  });
});
