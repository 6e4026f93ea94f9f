import 'reflect-metadata';
import { LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { AppModule } from './app.module';
import { documentCallbacks } from './callbacks/callbacks.openapi';
import { ApiError } from './common/api-error';
import { ErrorBodyDto } from './common/openapi';
import { validationPipe } from './common/validation';
import { environment } from './config/configuration';

/** Request bodies are small JSON documents; anything larger is refused with 413. */
const BODY_LIMIT_BYTES = 1024 * 1024;

/** The HTTP application exactly as served: Fastify (for status-route throughput), pipes, errors, docs. */
export async function createApp(logger?: LogLevel[]): Promise<NestFastifyApplication> {
  const adapter = new FastifyAdapter({ bodyLimit: BODY_LIMIT_BYTES });
  acceptJsonOnly(adapter);
  const app = await NestFactory.create<NestFastifyApplication>(AppModule, adapter, {
    bodyParser: false,
    ...(logger ? { logger } : {}),
  });
  app.useGlobalPipes(validationPipe);
  app.enableShutdownHooks();

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
      .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'The API key, e.g. rk_…' })
      .build(),
    { extraModels: [ErrorBodyDto] },
  );
  documentCallbacks(document);
  SwaggerModule.setup('docs', app, document, {
    jsonDocumentUrl: 'docs-json',
    swaggerOptions: { persistAuthorization: true },
  });
  return app;
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
    parse(request, body as string, (error, value) =>
      error
        ? done(ApiError.validation([{ field: 'body', message: 'is not valid JSON' }]), undefined)
        : done(null, value),
    ),
  );
}

async function bootstrap(): Promise<void> {
  const env = environment();
  if (env.APP_ROLE === 'worker') {
    const context = await NestFactory.createApplicationContext(AppModule);
    context.enableShutdownHooks();
    return;
  }
  const app = await createApp();
  await app.listen(env.PORT, '0.0.0.0');
}

if (require.main === module) {
  bootstrap().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
