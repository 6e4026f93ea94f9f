/**
 * Imported first by main.ts and cli.ts: OpenTelemetry patches modules as they are required, so the
 * SDK starts before anything else is. Off (nothing loaded, nothing patched) unless an OTLP endpoint
 * is configured.
 */
import { tracingConfig } from './config/configuration';
import { startTracing } from './tracing/sdk';

function tracingEnabled(): boolean {
  try {
    return tracingConfig().enabled;
  } catch {
    return false; // invalid configuration: the boot stops with its message
  }
}

if (tracingEnabled()) startTracing();
