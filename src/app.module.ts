import { HttpModule } from '@nestjs/axios';
import { BullModule } from '@nestjs/bull';
import { DynamicModule, Module } from '@nestjs/common';
import { ConfigModule, ConfigType } from '@nestjs/config';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { ThrottlerModule } from '@nestjs/throttler';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { CallbackDeliveryProcessor } from './callbacks/callback-delivery.processor';
import { CallbackSender } from './callbacks/callback-sender';
import { CallbackSlots } from './callbacks/callback-slots';
import { ApiKeyGuard } from './clients/api-key.guard';
import { ClientsModule } from './clients/clients.module';
import { WebhookSecretController } from './clients/webhook-secret.controller';
import { ErrorFilter } from './common/error.filter';
import { queueSettings } from './common/jobs';
import { RateLimitGuard, rateLimits } from './common/rate-limit';
import { RateLimitStorage } from './common/rate-limit-storage';
import {
  allConfig,
  databaseConfig,
  rateLimitConfig,
  redisConfig,
  reportsConfig,
} from './config/configuration';
import { AppRole } from './config/environment';
import { dataSourceOptions } from './database/database-options';
import { runMigrations } from './database/migrate';
import { HealthModule } from './health/health.module';
import { LoggingModule } from './logging/logging.module';
import { MetricsModule } from './metrics/metrics.module';
import { OrdersController } from './orders/orders.controller';
import { RenderReport } from './reports/render/render-report';
import { ReportCallbacksController } from './reports/api/report-callbacks.controller';
import { ReportFileStore } from './reports/store/report-file-store';
import { ReportOrdersReader } from './reports/render/report-orders-reader';
import { ReportRenderProcessor } from './reports/render/report-render.processor';
import { ReportSettlement } from './reports/render/report-settlement';
import { ReportSweeper } from './reports/sweep/report-sweeper';
import { ReportsController } from './reports/api/reports.controller';
import { ReportsModule } from './reports/reports.module';
import { RenderingModule } from './pdf/rendering.module';
import { RedisModule } from './redis/redis.module';
import { RedisConnections } from './redis/redis-connections';

/** What every process holds: configuration, Postgres (migrated at start), the queues. */
const infrastructure = [
  ConfigModule.forRoot({ isGlobal: true, ignoreEnvFile: true, load: allConfig }),
  TypeOrmModule.forRootAsync({
    inject: [databaseConfig.KEY],
    useFactory: (db: ConfigType<typeof databaseConfig>) => dataSourceOptions(db.url),
    dataSourceFactory: async (options) => {
      const dataSource = await new DataSource(options!).initialize();
      await runMigrations(dataSource);
      return dataSource;
    },
  }),
  BullModule.forRootAsync({
    inject: [redisConfig.KEY, reportsConfig.KEY],
    useFactory: (
      redis: ConfigType<typeof redisConfig>,
      reports: ConfigType<typeof reportsConfig>,
    ) => ({
      url: redis.url,
      prefix: redis.queuePrefix,
      settings: queueSettings(reports.stallTimeoutMs),
    }),
  }),
  MetricsModule,
  RedisModule,
];

/** The API part: the routes, and the guards that check the key and count the rate limits. */
@Module({
  imports: [
    ThrottlerModule.forRootAsync({
      inject: [rateLimitConfig.KEY, RedisConnections],
      useFactory: (limits: ConfigType<typeof rateLimitConfig>, redis: RedisConnections) => ({
        throttlers: rateLimits(limits.perMinute, limits.statusPerMinute),
        storage: new RateLimitStorage(
          redis.get('rate-limits', RateLimitStorage.connection),
          redis.prefix,
        ),
        setHeaders: false,
      }),
    }),
    ClientsModule,
    ReportsModule,
  ],
  controllers: [
    OrdersController,
    ReportsController,
    ReportCallbacksController,
    WebhookSecretController,
  ],
  providers: [
    // In this order: a request is counted against its client's limits once its key is known to
    // be valid, so a made-up key is refused (401) and never gets an allowance of its own.
    { provide: APP_GUARD, useClass: ApiKeyGuard },
    { provide: APP_GUARD, useClass: RateLimitGuard },
  ],
})
export class ApiModule {}

/** The worker part: renders reports, delivers callbacks, sweeps. */
@Module({
  imports: [HttpModule, ClientsModule, ReportsModule, RenderingModule],
  providers: [
    ReportRenderProcessor,
    RenderReport,
    ReportOrdersReader,
    ReportFileStore,
    ReportSettlement,
    ReportSweeper,
    CallbackDeliveryProcessor,
    CallbackSender,
    CallbackSlots,
  ],
})
export class WorkerModule {}

/** The parts a process of each role runs (APP_ROLE). */
export function partsOf(role: AppRole): { api: boolean; worker: boolean } {
  return { api: role !== 'worker', worker: role !== 'api' };
}

/**
 * The application, built for a role from its parts: the place, and the only one, where the role
 * decides anything. Both parts answer /health and /metrics.
 */
@Module({})
export class AppModule {
  /** `logLevel` overrides LOG_LEVEL (the e2e suite keeps its output to warnings and errors). */
  static forRole(role: AppRole, logLevel?: string): DynamicModule {
    const parts = partsOf(role);
    return {
      module: AppModule,
      imports: [
        ...infrastructure,
        LoggingModule.forRoot(logLevel),
        HealthModule.forProcess({ renders: parts.worker }),
        ...(parts.api ? [ApiModule] : []),
        ...(parts.worker ? [WorkerModule] : []),
      ],
      providers: [{ provide: APP_FILTER, useClass: ErrorFilter }],
    };
  }
}
