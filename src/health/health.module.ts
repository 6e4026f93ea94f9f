import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { ReportsModule } from '../reports/reports.module';
import { HealthController } from './health.controller';

@Module({ imports: [TerminusModule, ReportsModule], controllers: [HealthController] })
export class HealthModule {}
