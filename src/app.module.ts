import { BullModule } from '@nestjs/bull';
import { DynamicModule, Module } from '@nestjs/common';
import { ConfigModule, ConfigType } from '@nestjs/config';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { ThrottlerModule } from '@nestjs/throttler';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { CallbacksModule } from './callbacks/callbacks.module';
import { ApiKeyGuard } from './clients/api-key.guard';
import { ClientsModule } from './clients/clients.module';
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
import { AppRole, partsOf } from './config/environment';
import { dataSourceOptions } from './database/database-options';
import { runMigrations } from './database/migrate';
import { HealthModule } from './health/health.module';
import { LoggingModule } from './logging/logging.module';
import { MetricsModule } from './metrics/metrics.module';
import { OrdersModule } from './orders/orders.module';
import { ReportsModule } from './reports/reports.module';
import { RedisModule } from './redis/redis.module';
import { RedisConnections } from './redis/redis-connections';
import { TracingShutdown } from './tracing/tracing-shutdown';

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

/** The rate limits' counters, in Redis: shared by every API process. */
const rateLimitCounters = ThrottlerModule.forRootAsync({
  inject: [rateLimitConfig.KEY, RedisConnections],
  useFactory: (limits: ConfigType<typeof rateLimitConfig>, redis: RedisConnections) => ({
    throttlers: rateLimits(limits.perMinute, limits.statusPerMinute),
    storage: new RateLimitStorage(
      redis.get('rate-limits', RateLimitStorage.connection),
      redis.prefix,
    ),
    setHeaders: false,
  }),
});

/**
 * The application, built for a role (APP_ROLE): each feature registers the routes, processors and
 * queues of the parts the role runs (`forRole`); this module only assembles them. Every process
 * answers /health and /metrics.
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
        HealthModule,
        ...(parts.api ? [rateLimitCounters] : []),
        ClientsModule.forRole(parts),
        OrdersModule.forRole(parts),
        CallbacksModule.forRole(parts),
        ReportsModule.forRole(parts),
      ],
      providers: [
        { provide: APP_FILTER, useClass: ErrorFilter },
        TracingShutdown,
        // What every API request goes through before any route: its key is checked, then it is
        // counted against its client's rate limits. In this order: a made-up key is refused (401)
        // and never gets an allowance of its own.
        ...(parts.api
          ? [
              { provide: APP_GUARD, useClass: ApiKeyGuard },
              { provide: APP_GUARD, useClass: RateLimitGuard },
            ]
          : []),
      ],
    };
  }
}
