import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import { HealthController } from './health.controller';

/** /health in every process: Postgres, and the checks of the features the process runs. */
@Module({ imports: [TerminusModule, DiscoveryModule], controllers: [HealthController] })
export class HealthModule {}
