import { DiscoveryService } from '@nestjs/core';

/**
 * Marks a feature's provider as the check of a dependency it needs, named in /health's answer
 * (`@HealthCheckOf('chromium')`): its `ping()` resolves when the dependency answers. The health
 * route finds the checks of the features a process runs; it knows none of them.
 */
export const HealthCheckOf = DiscoveryService.createDecorator<string>();
