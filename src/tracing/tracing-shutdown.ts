import { Injectable, OnApplicationShutdown } from '@nestjs/common';
import { shutdownTracing } from './sdk';

/**
 * Flushes the traces when the application closes: after the jobs in flight have finished
 * (onModuleDestroy) and the HTTP server has closed.
 */
@Injectable()
export class TracingShutdown implements OnApplicationShutdown {
  onApplicationShutdown(): Promise<void> {
    return shutdownTracing();
  }
}
