// The windowed counts the rate and latency rules read, fed from each finished call. What counts
// as what is decided by the small pure functions below, so the rules' meaning is written down
// in one place:
//
// - 429 rate: every call; a hit is a call refused by a gateway limit (status rate_limited) or
//   answered 429 (a vendor's throttling passed on).
// - fallback rate: calls that reached a deployment (outcome.attempts > 0); a hit is a call
//   served by a fallback alias (outcome.fallback_used).
// - provider error rate: each upstream attempt, by its provider, from the request timeline (so
//   a provider that failed before a fallback served is still counted); when the timeline has no
//   attempts, the call itself by the event's provider. A hit is a failure that is the
//   provider's fault: not a request's own (bad request, context length, content policy) and not
//   throttling (429s have their own rule).
// - p95 latency: by provider, calls the provider served: the whole call's latency, or for a
//   stream the time to its first token (a stream's length is its answer's, not the provider's
//   health).

import type { LedgerEvent } from '../ledger/ledger-event.ts';
import type { FinishedCall } from '../telemetry/finished-call.ts';
import { LatencyWindow, RateWindow } from './sliding-window.ts';

/** Providers tracked at most (they come from the config; the cap only guards against surprises). */
export const MAX_PROVIDERS = 1_000;

/** Upstream error codes that are the request's own fault, or throttling (which has its own rule). */
const NOT_PROVIDER_FAULTS: ReadonlySet<string> = new Set(['upstream_bad_request', 'upstream_rate_limited']);

export function isThrottled(event: LedgerEvent): boolean {
  return event.outcome.status === 'rate_limited' || event.outcome.http_status === 429;
}

export function reachedDeployment(event: LedgerEvent): boolean {
  return event.outcome.attempts > 0;
}

/**
 * Whether a failure with this gateway error code says something about the provider: the
 * upstream_* codes but a bad request and throttling (context_length_exceeded and
 * content_policy_violation are the request's own, and gateway codes such as shutting_down are
 * the gateway's). A failure without a code is counted: better a noisy alert than a silent one.
 */
export function isProviderFault(code: string | null | undefined): boolean {
  return code == null || (code.startsWith('upstream_') && !NOT_PROVIDER_FAULTS.has(code));
}

/** One call to a provider and whether it failed by the provider's fault. */
export interface ProviderCall {
  readonly provider: string;
  readonly fault: boolean;
}

/** The provider calls a finished call made: its timeline's attempts, else the call itself. */
export function providerCalls(call: FinishedCall): ProviderCall[] {
  const out: ProviderCall[] = [];
  const attempts = call.timeline?.attempts ?? [];
  for (const a of attempts) {
    if (a.outcome === 'ok') out.push({ provider: a.provider, fault: false });
    else if (a.outcome === 'failed') out.push({ provider: a.provider, fault: isProviderFault(a.code) && a.httpStatus !== 429 });
  }
  if (out.length > 0 || attempts.length > 0) return out;
  const e = call.event;
  if (e.provider === null) return out;
  if (e.outcome.status === 'success') out.push({ provider: e.provider, fault: false });
  else if (e.outcome.status === 'upstream_error') out.push({ provider: e.provider, fault: isProviderFault(e.outcome.error_code) && e.outcome.http_status !== 429 });
  return out;
}

/** The latency sample a call gives its provider, or undefined when it gives none. */
export function latencySample(event: LedgerEvent): number | undefined {
  if (event.provider === null || event.outcome.status !== 'success' || event.cache_hit) return undefined;
  if (event.stream && event.latency_ms.ttft !== null) return event.latency_ms.ttft;
  return event.latency_ms.total;
}

export class CallStats {
  readonly #windowMs: number;
  readonly #latencyBounds: readonly number[];
  readonly throttled: RateWindow;
  readonly fallbacks: RateWindow;
  readonly providerErrors = new Map<string, RateWindow>();
  readonly providerLatency = new Map<string, LatencyWindow>();
  /** Calls whose provider was not tracked because MAX_PROVIDERS were already. */
  untracked = 0;

  /** `latencyThresholdsMs`: what p95s are compared with (made exact bucket bounds). */
  constructor(windowMs: number, latencyThresholdsMs: readonly number[] = []) {
    this.#windowMs = windowMs;
    this.#latencyBounds = latencyThresholdsMs;
    this.throttled = new RateWindow(windowMs);
    this.fallbacks = new RateWindow(windowMs);
  }

  record(call: FinishedCall, now: number): void {
    const event = call.event;
    this.throttled.add(now, isThrottled(event));
    if (reachedDeployment(event)) this.fallbacks.add(now, event.outcome.fallback_used);
    for (const c of providerCalls(call)) {
      const errors = this.providerErrors.get(c.provider) ?? this.#newSubject(this.providerErrors, c.provider, () => new RateWindow(this.#windowMs));
      errors?.add(now, c.fault);
    }
    const ms = latencySample(event);
    if (ms !== undefined) {
      const provider = event.provider!;
      const latency = this.providerLatency.get(provider) ?? this.#newSubject(this.providerLatency, provider, () => new LatencyWindow(this.#windowMs, this.#latencyBounds));
      latency?.add(now, ms);
    }
  }

  #newSubject<W>(map: Map<string, W>, key: string, make: () => W): W | undefined {
    if (map.size >= MAX_PROVIDERS) {
      this.untracked += 1;
      return undefined;
    }
    const window = make();
    map.set(key, window);
    return window;
  }
}
