import type { IncomingHttpHeaders } from 'node:http';
import type { ResolvedKey, TenantPolicy } from '../identity/key-directory.ts';
import type { LedgerDraft } from '../ledger/ledger-draft.ts';
import { newTimeline, type RequestTimeline } from '../telemetry/finished-call.ts';
import { randomHex, timeOrderedUuid } from './random-ids.ts';

export interface TraceContext {
  traceId: string;
  /** The gateway's own span id, sent upstream as the parent. */
  spanId: string;
  /** The caller's span id, when the caller sent a traceparent. */
  parentSpanId?: string;
  flags: string;
}

/** Tells the dispatcher when the client goes away (one listener slot; cheaper than an AbortSignal). */
export interface ClientWatch {
  /** Calls `listener` if the client disconnects; returns a function that stops watching. */
  onGone(listener: () => void): () => void;
}

/** The app's side of a ClientWatch: it calls clientGone() from the response's single close handler. */
export class ClientWatchSlot implements ClientWatch {
  private listener: (() => void) | undefined;
  onGone(listener: () => void): () => void {
    this.listener = listener;
    return () => {
      if (this.listener === listener) this.listener = undefined;
    };
  }
  clientGone(): void {
    const listener = this.listener;
    this.listener = undefined;
    listener?.();
  }
}

/** Who is calling: filled in by auth. Anonymous only when no master key is configured (loopback). */
export type Principal =
  | { readonly kind: 'anonymous' }
  | { readonly kind: 'master' }
  | { readonly kind: 'virtual'; readonly resolved: ResolvedKey };

export interface RequestContext {
  readonly requestId: string;
  /** performance.now() when the request arrived. */
  readonly receivedAt: number;
  readonly trace: TraceContext;
  /** When the stages and each upstream attempt ran (auth, policy, route, dispatch fill it), for the traces. */
  readonly timeline: RequestTimeline;
  /** X-Tenant-Id, or the tenant the key is bound to (auth). */
  tenantId?: string;
  /** The tenant's policy when the tenant is known (auth). */
  tenant?: TenantPolicy;
  /** X-Feature-Id. */
  featureId?: string;
  /** HMAC of X-User-Id, or of the body's `user` / `metadata.user_id`. Never the raw value. */
  userHash?: string;
  /** X-Gateway-Tags plus the body's metadata.tags. */
  tags?: readonly string[];
  /** The body's metadata string values (workflow, review id, …), for the ledger. */
  metadata?: Readonly<Record<string, string>>;
  /** X-Prompt-Version. */
  promptVersion?: string;
  /** A key that was recognised but refused (revoked, expired, …): the ledger still knows whose call it was. */
  refusedKey?: { readonly keyId: string; readonly teamId: string; readonly alias?: string };
  /** What the ledger records about the call, filled by the stages that learn it (model endpoints only). */
  ledger?: LedgerDraft;
  principal: Principal;
  /** Fires when the client disconnects before the response is finished. */
  readonly client: ClientWatch;
  /** Filled in by the route stage, for the access log: who served (or answered last). */
  served?: { alias: string; deployment: string; provider: string };
  /** Upstream attempts made (retries and fallbacks included), and the alias the client asked for when a fallback served. */
  route?: { attempts: number; fallbackFrom?: string };
}

const REQUEST_ID = /^[\w.:@\-]{1,128}$/;
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

export function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function newSpanId(): string {
  return randomHex(8);
}

/** W3C trace context: continue the caller's trace, or start one. Invalid headers are ignored. */
export function traceFrom(headerValue: string | undefined): TraceContext {
  const match = headerValue ? TRACEPARENT.exec(headerValue.trim().toLowerCase()) : null;
  if (match && !/^0+$/.test(match[1]!) && !/^0+$/.test(match[2]!)) {
    return { traceId: match[1]!, parentSpanId: match[2]!, spanId: newSpanId(), flags: match[3]! };
  }
  return { traceId: randomHex(16), spanId: newSpanId(), flags: '01' };
}

/** The traceparent to send upstream: this trace, with `spanId` (an attempt's span; default the gateway's own) as the parent. */
export function traceparentHeader(trace: TraceContext, spanId: string = trace.spanId): string {
  return `00-${trace.traceId}-${spanId}-${trace.flags}`;
}

const ANONYMOUS: Principal = Object.freeze({ kind: 'anonymous' });

export function createRequestContext(headers: IncomingHttpHeaders, receivedAt: number, client: ClientWatch): RequestContext {
  const given = header(headers, 'x-request-id');
  return {
    requestId: given !== undefined && REQUEST_ID.test(given) ? given : timeOrderedUuid(),
    receivedAt,
    trace: traceFrom(header(headers, 'traceparent')),
    timeline: newTimeline(),
    principal: ANONYMOUS,
    client,
  };
}
