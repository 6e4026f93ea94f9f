import type { NodeSDK } from '@opentelemetry/sdk-node';
import type { IncomingMessage, RequestOptions } from 'node:http';

/** Incoming requests that are not worth a trace: probes and scrapes, every few seconds. */
const UNTRACED_PATHS = /^\/(health|metrics)(\/|\?|$)/;

let sdk: NodeSDK | undefined;

/**
 * Starts OpenTelemetry's Node SDK: traces only, exported over OTLP as the OTEL_* variables say
 * (endpoint, protocol, headers, sampler, service name), with the HTTP server and client, Postgres,
 * Redis and pino patched. Called before anything else is required (instrument.ts): a module
 * required earlier is not patched. Nothing of the SDK is loaded unless this is called.
 */
export function startTracing(): void {
  if (sdk) return;
  /* eslint-disable @typescript-eslint/no-require-imports -- loaded only when tracing is on */
  const { NodeSDK, resources } =
    require('@opentelemetry/sdk-node') as typeof import('@opentelemetry/sdk-node');
  const { HttpInstrumentation } =
    require('@opentelemetry/instrumentation-http') as typeof import('@opentelemetry/instrumentation-http');
  const { PgInstrumentation } =
    require('@opentelemetry/instrumentation-pg') as typeof import('@opentelemetry/instrumentation-pg');
  const { IORedisInstrumentation } =
    require('@opentelemetry/instrumentation-ioredis') as typeof import('@opentelemetry/instrumentation-ioredis');
  const { PinoInstrumentation } =
    require('@opentelemetry/instrumentation-pino') as typeof import('@opentelemetry/instrumentation-pino');
  /* eslint-enable @typescript-eslint/no-require-imports */
  sdk = new NodeSDK({
    // The default name; OTEL_SERVICE_NAME or OTEL_RESOURCE_ATTRIBUTES override it.
    resource: resources
      .defaultResource()
      .merge(resources.resourceFromAttributes({ 'service.name': 'orders-reports' })),
    // Metrics stay on /metrics (Prometheus) and logs on stdout: OTLP carries the traces only.
    metricReaders: [],
    logRecordProcessors: [],
    instrumentations: [
      new HttpInstrumentation({
        ignoreIncomingRequestHook: (request: IncomingMessage) =>
          UNTRACED_PATHS.test(request.url ?? ''),
        // Only requests made inside a trace (a callback attempt), never the SDK's or Chromium's own.
        requireParentforOutgoingSpans: true,
        // A callback URL's query may hold a partner's token: the span keeps its origin and path.
        startOutgoingSpanHook: (request: RequestOptions) => ({
          'url.full': `${request.protocol ?? 'http:'}//${request.hostname ?? request.host}${
            request.port ? `:${request.port}` : ''
          }${(request.path ?? '/').split('?')[0]}`,
        }),
      }),
      // A query or command outside a trace (the sweep, Bull's polling) starts none.
      // Taking a pooled connection is no step of its own: a span per query is enough.
      new PgInstrumentation({ requireParentSpan: true, ignoreConnectSpans: true }),
      new IORedisInstrumentation({
        requireParentSpan: true,
        // The command's name only: its arguments are job data, keys and counters.
        dbStatementSerializer: (command: string) => command,
      }),
      // trace_id and span_id on every log line written while a span is active.
      new PinoInstrumentation({ disableLogSending: true }),
    ],
  });
  sdk.start();
}

export function tracingStarted(): boolean {
  return sdk !== undefined;
}

/** Exports the spans not yet sent and stops the SDK; nothing when tracing is off. */
export async function shutdownTracing(): Promise<void> {
  const running = sdk;
  sdk = undefined;
  await running?.shutdown().catch(() => undefined);
}
