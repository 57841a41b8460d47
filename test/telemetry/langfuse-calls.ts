// Finished calls for the Langfuse exporter tests: a served chat call (ledger-events.ts's event)
// with a one-attempt timeline, arriving at LEDGER_T0; every part can be overridden.

import type { AttemptMark, FinishedCall } from '../../src/telemetry/finished-call.ts';
import { LEDGER_T0, ledgerEvent, type LedgerEventOverrides } from '../helpers/ledger-events.ts';

/** performance.now() at arrival, in these calls. */
export const RECEIVED_AT = 5_000;
export const T0_MS = Date.parse(LEDGER_T0);

export function servedAttempt(overrides: Partial<AttemptMark> = {}): AttemptMark {
  return {
    spanId: '00f067aa0ba902b7',
    alias: 'support-quality',
    deployment: 'openai-eu',
    provider: 'openai',
    model: 'gpt-4o',
    start: RECEIVED_AT + 0.4,
    end: RECEIVED_AT + 812.6,
    firstTokenAt: RECEIVED_AT + 200,
    outcome: 'ok',
    httpStatus: 200,
    ...overrides,
  };
}

export function finishedCall(event: LedgerEventOverrides = {}, call: Partial<FinishedCall> = {}): FinishedCall {
  return {
    event: ledgerEvent(event),
    timeline: { stages: [], attempts: [servedAttempt()] },
    receivedAt: RECEIVED_AT,
    endedAt: RECEIVED_AT + 812.61,
    receivedAtEpochMs: T0_MS,
    spanId: 'b7ad6b7169203331',
    ...call,
  };
}
