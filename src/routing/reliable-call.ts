// The reliability loop around dispatch: pick a deployment, call it, and on a transient
// failure retry (full-jitter backoff, honouring Retry-After within the request's time budget)
// on a deployment that is not cooling down; when the alias's retries are spent, walk its
// fallback chain. Context-length and content-policy rejections jump to their dedicated
// fallbacks; other permanent errors fail fast. Every attempt feeds the deployment's health
// (circuit breaker, latency), every retry and fallback is logged and counted, and the client
// learns how it was served from x-gateway-attempts and x-gateway-fallback-used.
//
// Nothing is retried once the first byte has reached the client: `deliver` writes the
// response and after that handles failures itself (a stream ends with an error event).

import type { IncomingMessage } from 'node:http';
import type { AliasConfig, GatewayConfig } from '../config/gateway-config.ts';
import type { GatewayError } from '../errors/gateway-error.ts';
import type { Logger } from '../logging/logger.ts';
import type { TransportFor, UpstreamCall } from '../pipeline/dispatch.ts';
import type { Policy, TokenDemand } from '../pipeline/policy.ts';
import type { RequestContext } from '../pipeline/request-context.ts';
import type { Deployment, ProviderAdapter, UpstreamRequest, Usage } from '../providers/types.ts';
import type { Metrics } from '../telemetry/metrics.ts';
import type { DeploymentHealth } from './deployment-health.ts';
import { RoutedRequest, type RoutingShared } from './routed-request.ts';

export type { AttemptRecord } from './attempt-log.ts';

/** Where one attempt goes. */
export interface Target {
  readonly alias: AliasConfig;
  readonly dep: Deployment;
  readonly adapter: ProviderAdapter;
  /** True when the alias is a fallback, not the one the client asked for. */
  readonly fallback: boolean;
}

/** What deliver reports once the client has its response. */
export interface Delivered {
  readonly usage?: Usage;
  /** Output tokens estimated from what a broken stream delivered (no usage arrived). */
  readonly partialOutputTokens?: number;
  /** Streams: ms from sending to the first event. */
  readonly ttftMs?: number;
  /** Set when a stream failed after its first byte (the client got an error event). */
  readonly error?: GatewayError;
}

/** The route's part: how to build the request for a target, and how to answer the client. */
export interface CallPlan {
  readonly model: string;
  readonly stream: boolean;
  /** Token estimate for the policy stage on this target. */
  demand(target: Target): TokenDemand;
  /** The upstream request; throws GatewayError when the target cannot carry this request. */
  prepare(target: Target): UpstreamRequest;
  /**
   * Reads the response and answers the client with `headers` added. Throws (having written
   * nothing) when the call fails before the first byte; after that it never throws for an
   * upstream failure, but reports it in `error`.
   */
  deliver(call: UpstreamCall, target: Target, headers: Record<string, string>): Promise<Delivered>;
}

export type ReliableCall = (ctx: RequestContext, req: IncomingMessage, plan: CallPlan) => Promise<void>;

export interface ReliableCallDeps {
  readonly config: GatewayConfig;
  readonly health: DeploymentHealth;
  readonly policy: Policy;
  readonly transportFor: TransportFor;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly random: () => number;
  /** cost-based routing: a deployment's input plus output price per token (the ledger's price table). */
  readonly unitPrice?: (dep: Deployment) => number | undefined;
}

export function createReliableCall(deps: ReliableCallDeps): ReliableCall {
  const shared: RoutingShared = {
    ...deps,
    retries: deps.metrics.counter('tollgate_retries_total', 'Retries of a failed attempt, by alias and failure class.'),
    fallbacks: deps.metrics.counter('tollgate_fallbacks_total', 'Requests that moved to a fallback alias, by alias, target and reason.'),
  };
  return (ctx, req, plan) => new RoutedRequest(shared, ctx, req, plan).run();
}
