import { Inject, Injectable, OnModuleDestroy } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { reportsConfig } from '../../config/configuration';
import { KeyChanges } from '../../redis/key-changes';
import { RedisConnections } from '../../redis/redis-connections';

/**
 * "This report's status changed", in every process: what wakes a status request (or a POST) held by
 * `Prefer: wait=N`, within LONG_POLL_MAX_PER_CLIENT and LONG_POLL_MAX_PER_PROCESS.
 */
@Injectable()
export class ReportEvents extends KeyChanges implements OnModuleDestroy {
  constructor(
    connections: RedisConnections,
    @Inject(reportsConfig.KEY) reports: ConfigType<typeof reportsConfig>,
  ) {
    super(connections, 'report-status-changed', {
      perClient: reports.longPollPerClient,
      perProcess: reports.longPollPerProcess,
    });
  }

  onModuleDestroy(): void {
    this.stop();
  }
}
