import { BullModule } from '@nestjs/bull';
import { Module } from '@nestjs/common';
import { ConfigModule, ConfigType } from '@nestjs/config';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { ThrottlerModule } from '@nestjs/throttler';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { ApiKeyGuard } from './common/auth.guard';
import { MAX_STALLED_COUNT } from './common/queues';
import { ErrorFilter } from './common/error.filter';
import { RateLimitGuard, rateLimits } from './common/rate-limit';
import { RateLimitStorage } from './common/rate-limit-storage';
import {
  allConfig,
  databaseConfig,
  rateLimitConfig,
  redisConfig,
  reportsConfig,
} from './config/configuration';
import { dataSourceOptions } from './database/database-options';
import { runMigrations } from './database/migrate';
import { HealthModule } from './health/health.module';
import { MetricsModule } from './metrics/metrics.module';
import { OrdersModule } from './orders/orders.module';
import { ReportsModule } from './reports/reports.module';

/**
 * A job whose worker died is taken again once its lock expires (RENDER_STALL_TIMEOUT_MS). The lock
 * is renewed every third of that, so a long render on a busy 2-core machine keeps it.
 */
function bullSettings(stallTimeoutMs: number) {
  return {
    lockDuration: stallTimeoutMs,
    lockRenewTime: Math.floor(stallTimeoutMs / 3),
    stalledInterval: Math.floor(stallTimeoutMs / 2),
    maxStalledCount: MAX_STALLED_COUNT,
  };
}

@Module({
  imports: [
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
        settings: bullSettings(reports.stallTimeoutMs),
      }),
    }),
    ThrottlerModule.forRootAsync({
      inject: [rateLimitConfig.KEY, redisConfig.KEY],
      useFactory: (
        limits: ConfigType<typeof rateLimitConfig>,
        redis: ConfigType<typeof redisConfig>,
      ) => ({
        throttlers: rateLimits(limits.perMinute, limits.statusPerMinute),
        storage: new RateLimitStorage(redis.url, redis.queuePrefix),
        setHeaders: false,
      }),
    }),
    HealthModule,
    MetricsModule,
    OrdersModule,
    ReportsModule,
  ],
  providers: [
    { provide: APP_FILTER, useClass: ErrorFilter },
    // In this order: a request is counted against its client's limits once its key is known to
    // be valid, so a made-up key is refused (401) and never gets an allowance of its own.
    { provide: APP_GUARD, useClass: ApiKeyGuard },
    { provide: APP_GUARD, useClass: RateLimitGuard },
  ],
})
export class AppModule {}
