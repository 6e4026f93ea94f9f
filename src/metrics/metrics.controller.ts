import { Controller, Get, Header } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import { Registry } from 'prom-client';
import { Public } from '../common/auth';
import { MetricsService } from './metrics.service';

@ApiTags('operations')
@Public()
@Controller('metrics')
export class MetricsController {
  constructor(private readonly metrics: MetricsService) {}

  @Get()
  @Header('Content-Type', Registry.PROMETHEUS_CONTENT_TYPE)
  @ApiOperation({
    summary:
      'Prometheus metrics: HTTP request durations, queue depth per state, render durations and ' +
      'sizes, callback attempts by outcome, Chromium restarts, Node process metrics',
  })
  @ApiProduces(Registry.PROMETHEUS_CONTENT_TYPE)
  @ApiOkResponse({
    description: 'The Prometheus text exposition format',
    schema: { type: 'string' },
  })
  scrape(): Promise<string> {
    return this.metrics.scrape();
  }
}
