// Which calls' traces are exported. Pure.
//
// A call whose client sent a traceparent follows the client's decision (its sampled flag), as
// OpenTelemetry's default ParentBased sampler does: a trace the client samples is never missing the
// gateway's part, and one it dropped is not half-exported by the gateway. Any other call is kept
// by its trace id against the ratio, so every replica (and anything downstream deciding the same
// way) keeps or drops a trace whole. The decision follows OpenTelemetry's TraceIdRatioBased
// sampler: the trace id's last 56 bits are the randomness R, and a trace is kept when
// R >= (1 - ratio) * 2^56.

import type { FinishedCall } from '../finished-call.ts';

const TWO_POW_56 = 2 ** 56;

/** Whether the trace id falls within the ratio (0..1) of traces kept. */
export function traceIdSampled(traceId: string, ratio: number): boolean {
  if (ratio >= 1) return true;
  if (!(ratio > 0)) return false;
  const randomness = Number.parseInt(traceId.slice(-14), 16);
  if (!Number.isFinite(randomness)) return false;
  return randomness >= (1 - ratio) * TWO_POW_56;
}

/** The client's sampling decision, when it sent a traceparent (and the flags are known). */
export function parentSampled(call: FinishedCall): boolean | undefined {
  if (call.parentSpanId === undefined || call.traceFlags === undefined) return undefined;
  return (Number.parseInt(call.traceFlags, 16) & 1) === 1;
}

export function keepTrace(call: FinishedCall, ratio: number): boolean {
  return parentSampled(call) ?? traceIdSampled(call.event.trace_id, ratio);
}
