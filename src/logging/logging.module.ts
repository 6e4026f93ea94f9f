import { DynamicModule, LogLevel, Module } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { LoggerModule } from 'nestjs-pino';
import { observabilityConfig } from '../config/configuration';

/**
 * JSON lines on stdout through pino: one line per HTTP answer carrying the request id (Fastify's,
 * see request-id.ts), and every application log line. Neither headers nor bodies are logged.
 */
@Module({})
export class LoggingModule {
  /** `level` overrides LOG_LEVEL (the e2e suite keeps its output to warnings and errors). */
  static forRoot(level?: string): DynamicModule {
    return {
      module: LoggingModule,
      imports: [
        LoggerModule.forRootAsync({
          inject: [observabilityConfig.KEY],
          useFactory: (config: ConfigType<typeof observabilityConfig>) => ({
            pinoHttp: {
              level: level ?? config.logLevel,
              // What an answer's line says of it, by whitelist: no header is logged, so no
              // credential can be (and a line costs a few fields, not the request's headers).
              serializers: {
                req: (request: Record<string, unknown>) => ({
                  id: request.id,
                  method: request.method,
                  url: request.url,
                  remoteAddress: request.remoteAddress,
                }),
                res: (response: Record<string, unknown>) => ({ statusCode: response.statusCode }),
              },
              // Client errors are the client's business: info, so that they stay out of warn-level output.
              customLogLevel: (_request, response, error) =>
                error || response.statusCode >= 500 ? 'error' : 'info',
            },
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
