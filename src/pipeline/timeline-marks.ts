// Marks on the request's timeline (telemetry/finished-call.ts), made by the stages as they run
// and read only after the response has ended (the traces exporter turns them into spans). On the
// hot path: one performance.now() and one small object per mark, no closure.

import type { Deployment } from '../providers/types.ts';
import type { AttemptMark, RequestTimeline, StageMark } from '../telemetry/finished-call.ts';
import { randomHex } from './random-ids.ts';

/** A stage that starts now; the caller sets `end` when it is over (end 0: it never ended). */
export function startStage(timeline: RequestTimeline, stage: StageMark['stage']): StageMark {
  const mark: StageMark = { stage, start: performance.now(), end: 0 };
  timeline.stages.push(mark);
  return mark;
}

/**
 * An upstream attempt on `dep` that starts at `start`, with its own span id: dispatch sends it
 * upstream as the traceparent's parent, so the provider's spans hang under this attempt's span
 * (and a retry's under the retry's), not under the request as a whole.
 */
export function startAttempt(timeline: RequestTimeline, alias: string, dep: Deployment, start: number): AttemptMark {
  const mark: AttemptMark = {
    spanId: randomHex(8), alias, deployment: dep.id, provider: dep.provider, model: dep.model, start, end: 0, outcome: 'pending',
  };
  timeline.attempts.push(mark);
  return mark;
}

/** The attempt is over: `code` is the gateway error code it failed with (none: it served). */
export function endAttempt(mark: AttemptMark, end: number, code: string | undefined): void {
  mark.end = end;
  mark.outcome = code === undefined ? 'ok' : 'failed';
  if (code !== undefined) mark.code = code;
}
