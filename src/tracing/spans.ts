import {
  Attributes,
  context,
  propagation,
  ROOT_CONTEXT,
  Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';

/**
 * The service's own spans, through OpenTelemetry's API: without the SDK (tracing off) every call
 * here is a no-op that costs a function call.
 */
const tracer = trace.getTracer('orders-reports');

/** A trace context as W3C Trace Context headers (`traceparent`, `tracestate`), carried in a job. */
export type TraceCarrier = Record<string, string>;

/**
 * Runs `work` in a span of its own, child of the active one, and ends it when `work` settles; a
 * failure is recorded (its class, not its message: messages may name a partner's host).
 */
export function inSpan<T>(
  name: string,
  attributes: Attributes,
  work: (span: Span) => Promise<T>,
  options: { kind?: SpanKind } = {},
): Promise<T> {
  return tracer.startActiveSpan(name, { attributes, kind: options.kind }, async (span) => {
    try {
      return await work(span);
    } catch (error) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: errorName(error) });
      throw error;
    } finally {
      span.end();
    }
  });
}

/** The active trace context, to carry in a job; undefined outside a trace (or tracing off). */
export function traceCarrier(): TraceCarrier | undefined {
  const carrier: TraceCarrier = {};
  propagation.inject(context.active(), carrier);
  return carrier.traceparent ? carrier : undefined;
}

/**
 * Runs `work` in the trace context a job carried, or in none (a job the sweep queued, or queued
 * with tracing off): never in the context that happens to be active, which belongs to another job.
 */
export function inCarriedTrace<T>(carrier: TraceCarrier | undefined, work: () => T): T {
  const parent = carrier ? propagation.extract(ROOT_CONTEXT, carrier) : ROOT_CONTEXT;
  return context.with(parent, work);
}

/** Runs `work` outside any trace: what it queues belongs to no report's trace. */
export function outsideTraces<T>(work: () => T): T {
  return context.with(ROOT_CONTEXT, work);
}

/** Adds attributes to the active span (the HTTP request's, a job's), if any. */
export function annotateSpan(attributes: Attributes): void {
  trace.getActiveSpan()?.setAttributes(attributes);
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : 'Error';
}

export { SpanKind, SpanStatusCode };
