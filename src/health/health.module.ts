import { DynamicModule, Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { ReportsModule } from '../reports/reports.module';
import { PdfRenderer } from '../pdf/pdf-renderer.service';
import { PdfModule } from '../pdf/pdf.module';
import { HealthController, Ping, PINGS } from './health.controller';

@Module({})
export class HealthModule {
  /** Postgres and Redis in every process; Chromium too in a process that renders. */
  static forProcess({ renders }: { renders: boolean }): DynamicModule {
    return {
      module: HealthModule,
      imports: [TerminusModule, ReportsModule, ...(renders ? [PdfModule] : [])],
      controllers: [HealthController],
      providers: [
        renders
          ? {
              provide: PINGS,
              inject: [PdfRenderer],
              useFactory: (renderer: PdfRenderer): Ping[] => [
                { name: 'chromium', ping: () => renderer.ping() },
              ],
            }
          : { provide: PINGS, useValue: [] },
      ],
    };
  }
}
