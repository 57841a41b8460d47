// A model call's last step, run once both its response has closed and its handler has finished
// (a stream's usage is settled just after its last byte): its ledger event is built, once, and
// handed on: to the ledger (when enabled), to the prompt log (when the call's team or tenant
// opted in), to the access log, and to every telemetry observer (metrics, traces, Langfuse,
// alerts). Nothing here touches the response, and nothing here throws: an observer that fails
// is logged (once a minute at most) and the others still get the call.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { buildLedgerEvent, type LedgerPricing } from '../ledger/build-ledger-event.ts';
import type { LedgerDraft } from '../ledger/ledger-draft.ts';
import type { LedgerEvent } from '../ledger/ledger-event.ts';
import { streamedText } from '../ledger/prompt-log/completion-text.ts';
import type { PromptLogger } from '../ledger/prompt-log/prompt-logger.ts';
import { writeAccessLine } from '../logging/access-log.ts';
import type { Logger } from '../logging/logger.ts';
import type { CallObserver, CallText, FinishedCall } from '../telemetry/finished-call.ts';
import type { RequestContext } from './request-context.ts';

/** Calls refused before we know whose they are (no key, or a key nobody issued) are nobody's to record. */
const UNATTRIBUTED = new Set(['missing_api_key', 'invalid_api_key']);
const OBSERVER_ERROR_LOG_MS = 60_000;

export interface CallFinisherOptions {
  readonly pricing: LedgerPricing;
  readonly ledger?: { record(event: LedgerEvent): void };
  readonly prompts?: PromptLogger;
  readonly observers: readonly CallObserver[];
  readonly logger: Logger;
  readonly accessLog: boolean;
}

export type FinishCall = (ctx: RequestContext, draft: LedgerDraft, req: IncomingMessage, res: ServerResponse, path: string) => void;

export function createCallFinisher(options: CallFinisherOptions): FinishCall {
  const { pricing, ledger, prompts, observers, logger } = options;
  const lastObserverError = new Map<string, number>();

  function notify(call: FinishedCall): void {
    for (const observer of observers) {
      try {
        observer.observe(call);
      } catch (error) {
        const now = performance.now();
        if (now - (lastObserverError.get(observer.name) ?? -Infinity) < OBSERVER_ERROR_LOG_MS) continue;
        lastObserverError.set(observer.name, now);
        logger.error('telemetry observer failed on a call (the call itself was served)', { observer: observer.name, request_id: call.event.request_id, error: String((error as Error)?.message ?? error) });
      }
    }
  }

  return function finishCall(ctx, draft, req, res, path) {
    if (draft.errorCode !== undefined && UNATTRIBUTED.has(draft.errorCode) && !ctx.refusedKey) {
      if (options.accessLog) writeAccessLine(logger, ctx, req, res, path);
      return;
    }
    try {
      const endedAt = performance.now();
      const receivedAtEpochMs = Date.now() - (endedAt - ctx.receivedAt);
      const event = buildLedgerEvent(ctx, draft, { httpStatus: res.statusCode, clientGone: !res.writableFinished, endedAt, receivedAtEpochMs }, pricing);
      ledger?.record(event);
      const capture = draft.capture;
      let text: CallText | undefined;
      if (capture && draft.deployment) {
        text = { prompt: capture.prompt, completion: capture.completion ?? streamedText(capture.events) };
        prompts?.record({
          requestId: event.request_id, timestamp: event.timestamp, teamId: event.team_id, tenantId: event.tenant_id, keyId: event.key_id,
          userHash: event.user_id_hash, alias: event.model_alias, prompt: text.prompt, completion: text.completion,
        });
      }
      if (options.accessLog) writeAccessLine(logger, ctx, req, res, path, event);
      if (observers.length > 0) {
        notify({
          event, timeline: ctx.timeline, receivedAt: ctx.receivedAt, endedAt, receivedAtEpochMs, spanId: ctx.trace.spanId, traceFlags: ctx.trace.flags,
          ...(ctx.trace.parentSpanId ? { parentSpanId: ctx.trace.parentSpanId } : {}),
          ...(text ? { text } : {}),
        });
      }
    } catch (error) {
      logger.error('ledger event could not be built', { request_id: ctx.requestId, error: String((error as Error)?.stack ?? error) });
    }
  };
}
