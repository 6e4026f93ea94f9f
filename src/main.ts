import './instrument';
import 'reflect-metadata';
import { LogLevel } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { Socket } from 'node:net';
import { Logger } from 'nestjs-pino';
import { mountQueueDashboard } from './admin/queue-dashboard';
import { AppModule } from './app.module';
import { documentReportCallback } from './reports/api/report-callback.openapi';
import { ApiError } from './common/api-error';
import { closeGracefully } from './common/graceful-close';
import { documentFrameworkErrors, ErrorBodyDto } from './common/openapi';
import { addSecurityHeaders } from './common/security-headers';
import { illFormedString, malformedJson, validationPipe } from './common/validation';
import { clientErrorHandler, frameworkErrorHandler } from './common/error.filter';
import { environment, observabilityConfig } from './config/configuration';
import { partsOf } from './config/environment';
import { HealthController } from './health/health.controller';
import { APP_LOGGER, pinoLevel } from './logging/logging.module';
import { logRequests } from './logging/request-log';
import { echoRequestId, requestId } from './logging/request-id';
import { recordHttpMetrics } from './metrics/http-metrics';
import { MetricsService } from './metrics/metrics.service';
import { tracingStarted } from './tracing/sdk';
import { nameServerSpans } from './tracing/server-spans';

/** Request bodies are small JSON documents; anything larger is refused with 413. */
const BODY_LIMIT_BYTES = 1024 * 1024;
/**
 * How long a connection refused at the HTTP level (408 late request, malformed request) stays
 * half-closed for the client to read the refusal, before it is closed whatever the client does.
 */
const REFUSED_CONNECTION_LINGER_MS = 1000;

/**
 * The HTTP application exactly as served, for APP_ROLE: Fastify (for status-route throughput),
 * pipes, errors, metrics, and where the API part runs, the docs and the queue dashboard. `logger`
 * limits the log levels (the e2e suite's quiet).
 */
export async function createApp(logger?: LogLevel[]): Promise<NestFastifyApplication> {
  const env = environment();
  const adapter = new FastifyAdapter({
    bodyLimit: BODY_LIMIT_BYTES,
    genReqId: requestId,
    frameworkErrors: frameworkErrorHandler,
    clientErrorHandler: closeAfterRefusal,
    trustProxy: trustProxy(env.TRUST_PROXY),
    // A request (headers and body) must arrive within HTTP_REQUEST_TIMEOUT_MS, checked every
    // second (Node's default, 30 s, let a slow client hold its connection for 45). Only the
    // request is timed: a held Prefer: wait answer is not cut.
    requestTimeout: env.HTTP_REQUEST_TIMEOUT_MS,
    http: {
      headersTimeout: env.HTTP_REQUEST_TIMEOUT_MS,
      requestTimeout: env.HTTP_REQUEST_TIMEOUT_MS,
      connectionsCheckingInterval: 1000,
    },
  });
  // Beyond it, a new connection is closed at once: what a process holds stays bounded.
  adapter.getInstance().server.maxConnections = env.HTTP_MAX_CONNECTIONS;
  acceptJsonOnly(adapter);
  addSecurityHeaders(adapter.getInstance());
  echoRequestId(adapter.getInstance());
  closeGracefully(adapter.getInstance());
  if (tracingStarted()) nameServerSpans(adapter.getInstance());
  const role = env.APP_ROLE;
  const app = await NestFactory.create<NestFastifyApplication>(
    AppModule.forRole(role, logger && pinoLevel(logger)),
    adapter,
    { bodyParser: false, bufferLogs: true },
  );
  app.useLogger(app.get(Logger));
  app.useGlobalPipes(validationPipe);
  app.enableShutdownHooks();
  app.get(HealthController).answerFromLastCheck(adapter.getInstance());
  recordHttpMetrics(adapter.getInstance(), app.get(MetricsService));
  logRequests(adapter.getInstance(), app.get(APP_LOGGER));
  if (partsOf(role).api) await mountDocsAndDashboard(app);
  return app;
}

/** The API part's pages: Swagger UI and the OpenAPI document, and the queue dashboard if enabled. */
async function mountDocsAndDashboard(app: NestFastifyApplication): Promise<void> {
  const { adminToken } = app.get<ConfigType<typeof observabilityConfig>>(observabilityConfig.KEY);
  if (adminToken) await mountQueueDashboard(app, adminToken);
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Orders reports API')
      .setDescription(
        'PDF exports of orders, the asynchronous way. `POST /v1/orders/reports` answers 202 Accepted ' +
          'at once; poll the `Location` it gives until it answers 303 See Other to the PDF.\n\n' +
          'Authorize with the API key printed by `npm run local` (or `node dist/cli.js clients:create`).',
      )
      .setVersion('1')
      .setLicense('MIT', 'https://opensource.org/licenses/MIT') // package.json's
      // Relative: the API is where the document was fetched from, whatever name reached it.
      .addServer('/', 'This server')
      .addBearerAuth({
        type: 'http',
        scheme: 'bearer',
        bearerFormat: 'rk_…',
        description: 'The API key, e.g. rk_…',
      })
      .build(),
    { extraModels: [ErrorBodyDto] },
  );
  documentFrameworkErrors(document);
  documentReportCallback(document);
  SwaggerModule.setup('docs', app, document, {
    jsonDocumentUrl: 'docs-json',
    // The key stays in the page's memory: in localStorage any script of this origin, and anyone
    // at the browser later, could read it.
    swaggerOptions: { persistAuthorization: false },
  });
}

/**
 * JSON is the only body the API takes (anything else: 415), and malformed JSON is a validation error
 * in the contract's format. Fastify's own parser still guards against prototype poisoning.
 */
function acceptJsonOnly(adapter: FastifyAdapter): void {
  const fastify = adapter.getInstance();
  const parse = fastify.getDefaultJsonParser('error', 'error');
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) =>
    // An empty body (a POST that carries none, such as redeliver) is no body, not malformed JSON.
    body === ''
      ? done(null, undefined)
      : parse(request, body as string, (error, value) =>
          error
            ? done(malformedJson(), undefined)
            : // Lone surrogates cannot be stored (Postgres text and jsonb are UTF-8): refuse them whole.
              illFormedString(value)
              ? done(ApiError.invalidField('body', 'must be valid Unicode'), undefined)
              : done(null, value),
        ),
  );
}

/**
 * Answers a request refused before it reached a route (408 when it did not arrive in time) and
 * closes its connection. The answer only ends the server's side: a client that never ends its own,
 * or keeps sending a body, held the connection open for good (the check that cuts late requests
 * had already fired).
 */
function closeAfterRefusal(error: Parameters<typeof clientErrorHandler>[0], socket: Socket): void {
  clientErrorHandler(error, socket);
  setTimeout(() => socket.destroy(), REFUSED_CONNECTION_LINGER_MS).unref();
}

/**
 * TRUST_PROXY as Fastify takes it: whose X-Forwarded-For gives the client's address (never `true`,
 * refused at start).
 */
function trustProxy(value: string): false | number | string {
  if (value === 'false') return false;
  return /^\d+$/.test(value) ? Number(value) : value;
}

async function bootstrap(): Promise<void> {
  const env = environment();
  // A worker listens too, for /health and /metrics only: its renders and callbacks are counted there.
  const app = await createApp();
  await app.listen(env.PORT, '0.0.0.0');
}

if (require.main === module) {
  bootstrap().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
