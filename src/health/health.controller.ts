import { InjectQueue } from '@nestjs/bull';
import { Controller, Get, Inject } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import {
  HealthCheck,
  HealthCheckService,
  HealthIndicatorService,
  TypeOrmHealthIndicator,
} from '@nestjs/terminus';
import type { Queue } from 'bull';
import { ApiError, CommonErrorCode } from '../common/api-error';
import { Public } from '../common/auth.guard';
import { QueueName } from '../common/queues';
import { withTimeout } from '../common/with-timeout';
import { appConfig } from '../config/configuration';
import { PdfRenderer } from '../reports/rendering/pdf-renderer.service';

const TIMEOUT_MS = 3000;

@ApiTags('operations')
@Public()
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicator: HealthIndicatorService,
    private readonly database: TypeOrmHealthIndicator,
    @InjectQueue(QueueName.ReportRender) private readonly queue: Queue,
    private readonly renderer: PdfRenderer,
    @Inject(appConfig.KEY) private readonly app: ConfigType<typeof appConfig>,
  ) {}

  @Get()
  @HealthCheck()
  @ApiOperation({
    summary: '200 when Postgres, Redis and Chromium answer; 503 naming the one that does not',
  })
  async check() {
    try {
      return await this.health.check(this.indicators());
    } catch (error) {
      const down = Object.keys((error as { response?: { error?: object } }).response?.error ?? {});
      throw new ApiError(
        503,
        CommonErrorCode.ServiceUnavailable,
        `Not healthy: ${down.join(', ') || 'unknown'} does not answer`,
        undefined,
        { 'Retry-After': '5' },
      );
    }
  }

  private indicators() {
    return [
      () => this.database.pingCheck('postgres', { timeout: TIMEOUT_MS }),
      () => this.probe('redis', () => this.queue.client.ping()),
      // Chromium lives in worker processes; an API-only process has none to check.
      ...(this.app.role === 'api'
        ? []
        : [() => this.probe('chromium', () => this.renderer.ping())]),
    ];
  }

  private async probe(key: string, ping: () => Promise<unknown>) {
    const check = this.indicator.check(key);
    try {
      await withTimeout(ping(), TIMEOUT_MS, key);
      return check.up();
    } catch {
      return check.down({ message: `${key} does not answer` });
    }
  }
}
