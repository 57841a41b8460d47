import type { GatewayConfig } from '../config/gateway-config.ts';
import type { Logger } from '../logging/logger.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import { breakerSettings, DeploymentHealth } from './deployment-health.ts';

/**
 * The gateway's DeploymentHealth. With `redis:` configured, cooldowns are shared through it
 * (the Redis client is loaded only then), seeded with those already in force; without, each
 * instance's breakers are its own.
 */
export async function openDeploymentHealth(config: GatewayConfig, logger: Logger, metrics: Metrics): Promise<DeploymentHealth> {
  const health = new DeploymentHealth({ metrics, logger, breaker: breakerSettings(config) });
  if (config.redis) {
    const { openRedisCooldownSync } = await import('./redis-cooldown-sync.ts');
    const sync = openRedisCooldownSync({ url: config.redis.url, keyPrefix: config.redis.keyPrefix, logger, onEvent: (event) => health.apply(event) });
    await health.useSync(sync);
  }
  return health;
}
