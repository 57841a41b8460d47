import type { AliasConfig } from '../config/gateway-config.ts';
import type { Deployment } from '../providers/types.ts';
import type { DeploymentHealth } from './deployment-health.ts';

/** Epoch ms the first of these deployments' cooldowns ends, if any is cooling. */
export function firstCooldownEnd(health: DeploymentHealth, deployments: readonly Deployment[]): number | undefined {
  let first: number | undefined;
  for (const d of deployments) {
    const until = health.cooldownUntil(d.id);
    if (until !== undefined) first = Math.min(first ?? until, until);
  }
  return first;
}

export interface FailedAttempt {
  /** The deployment that failed. */
  readonly deployment: string | undefined;
  /** The vendor's Retry-After, in seconds. */
  readonly retryAfterSeconds: number | undefined;
}

/**
 * How long to wait before retrying within `alias`, or undefined to move on to the next
 * fallback now:
 * - another deployment is ready to take the retry: the jittered backoff;
 * - only the one that failed is left, and it is not cooling: the backoff, or its Retry-After if longer;
 * - every deployment is cooling: fall back at once when there is a fallback; else, when the
 *   cooldown is the vendor's Retry-After, wait it out and go as the half-open probe, and when
 *   it is the breaker's (the deployment is unhealthy), stop retrying.
 * The caller checks that the wait fits the request's time budget.
 */
export function retryWait(
  health: DeploymentHealth, alias: AliasConfig, failed: FailedAttempt, avoid: ReadonlySet<string>, canFallBack: boolean, jitterMs: number,
): number | undefined {
  const usable = alias.deployments.filter((d) => !avoid.has(d.id));
  const ready = (d: Deployment) => health.availability(d.id) !== 'cooling';
  if (usable.some((d) => d.id !== failed.deployment && ready(d))) return jitterMs;
  if (usable.some((d) => d.id === failed.deployment && ready(d))) {
    return failed.retryAfterSeconds === undefined ? jitterMs : Math.max(jitterMs, failed.retryAfterSeconds * 1000);
  }
  if (canFallBack || failed.retryAfterSeconds === undefined) return undefined;
  // Only a cooldown the vendor asked for (its Retry-After) is worth waiting out; a breaker's
  // cooldown says the deployment is unhealthy, so the client gets the error now instead.
  const first = firstCooldownEnd(health, usable);
  if (first === undefined) return jitterMs;
  const wait = Math.max(0, first - Date.now());
  return wait <= failed.retryAfterSeconds * 1000 + RETRY_AFTER_SLACK_MS ? wait + jitterMs : undefined;
}

/** How far a cooldown may end past the vendor's Retry-After and still be its cooldown. */
const RETRY_AFTER_SLACK_MS = 1_000;
