import { DynamicModule, LogLevel, Module } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { LoggerModule } from 'nestjs-pino';
import { Logger, pino } from 'pino';
import { observabilityConfig } from '../config/configuration';

/**
 * JSON lines on stdout through pino: every application log line, and one line per HTTP answer
 * (request-log.ts) carrying the request id (Fastify's, see request-id.ts).
 */
/** The pino logger behind every line, application and HTTP answers alike. */
export const APP_LOGGER = Symbol('APP_LOGGER');

@Module({})
export class LoggingModule {
  /** `level` overrides LOG_LEVEL (the e2e suite keeps its output to warnings and errors). */
  static forRoot(level?: string): DynamicModule {
    return {
      module: LoggingModule,
      imports: [
        LoggerModule.forRootAsync({
          providers: [
            {
              provide: APP_LOGGER,
              inject: [observabilityConfig.KEY],
              useFactory: (config: ConfigType<typeof observabilityConfig>) =>
                pino({ level: level ?? config.logLevel }),
            },
          ],
          inject: [APP_LOGGER],
          useFactory: (logger: Logger) => ({
            // Answers are logged by request-log.ts: the module's per-request middleware (pino-http
            // through middie, and an AsyncLocalStorage) is mounted on no route.
            forRoutes: [],
            pinoHttp: { logger },
          }),
        }),
      ],
    };
  }
}

const PINO_LEVELS: Record<LogLevel, string> = {
  verbose: 'trace',
  debug: 'debug',
  log: 'info',
  warn: 'warn',
  error: 'error',
  fatal: 'fatal',
};

/** The pino level that lets through exactly the given Nest levels' severities (most verbose wins). */
export function pinoLevel(levels: LogLevel[]): string {
  const order: LogLevel[] = ['verbose', 'debug', 'log', 'warn', 'error', 'fatal'];
  const lowest = order.find((level) => levels.includes(level));
  return lowest ? PINO_LEVELS[lowest] : 'silent';
}
