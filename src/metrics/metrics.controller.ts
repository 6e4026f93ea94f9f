import { Controller, Get, Header } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import { Registry } from 'prom-client';
import { Public } from '../common/auth';
import { ApiErrorResponse, UNEXPECTED_ERROR } from '../common/openapi';
import { MetricsService } from './metrics.service';

@ApiTags('operations')
@ApiErrorResponse(500, [UNEXPECTED_ERROR])
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
    security: [],
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
