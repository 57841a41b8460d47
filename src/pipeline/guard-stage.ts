// Guard stage, after auth and before the cache: the input guard under the call's guardrail
// policy (src/guardrails/). A blocked request never reaches the cache or a provider; a redacted
// one goes on as a copy with typed placeholders (the client's body is never changed). What the
// guard decided goes on the ledger draft and, as gateway.guard, on the trace.
//
// The returned GuardedCall scans the answer: a whole completion (`completion`), or a stream
// (guarded-stream.ts), under the same policy, and merges that verdict into the ledger's.

import type { GatewayConfig } from '../config/gateway-config.ts';
import type { GuardrailPolicy } from '../config/guardrails-schema.ts';
import { authorizedAlias } from './model-access.ts';
import { GatewayError } from '../errors/gateway-error.ts';
import type { Guardrails } from '../guardrails/guardrails.ts';
import { emptyJudgement, stronger, type Judgement } from '../guardrails/guard-verdict.ts';
import type { Pseudonymizer } from '../guardrails/placeholders.ts';
import { cloneMessages, systemText, type ScanTarget } from '../guardrails/scan-targets.ts';
import type { ChatCompletion } from '../providers/types.ts';
import type { RequestContext } from './request-context.ts';
import { startStage } from './timeline-marks.ts';

export interface GuardedCall<B> {
  /** The request to send on: the client's, or a redacted copy. */
  readonly body: B;
  /** The body differs from the client's (redacted). */
  readonly changed: boolean;
  readonly policy: GuardrailPolicy;
  readonly guardrails: Guardrails;
  readonly systemPrompt: string;
  readonly pseudonymizer?: Pseudonymizer;
  /** Output guard for a whole chat completion: redacts/restores it in place; throws guardrail_blocked. */
  completion(completion: ChatCompletion, ctx: RequestContext): Promise<void>;
  /** Output guard for an answer's texts (e.g. an Anthropic message's text blocks), in place. */
  answer(texts: readonly ScanTarget[], ctx: RequestContext): Promise<void>;
  /** Merges an output verdict into the call's ledger verdict. */
  merge(ctx: RequestContext, output: Judgement): void;
}

function callerOf(ctx: RequestContext) {
  const principal = ctx.principal;
  return {
    requestId: ctx.requestId,
    ...(ctx.tenantId !== undefined ? { tenantId: ctx.tenantId } : {}),
    ...(principal.kind === 'virtual' ? { teamId: principal.resolved.key.team_id } : {}),
  };
}

function note(ctx: RequestContext, judgement: Judgement): void {
  const draft = ctx.ledger;
  if (!draft) return;
  const before = draft.guardrail;
  draft.guardrail = {
    verdict: before ? stronger(before.verdict, judgement.verdict) : judgement.verdict,
    detectors: [...new Set([...(before?.detectors ?? []), ...judgement.detectors])],
  };
}

function blockedJudgement(direction: 'input' | 'output', err: GatewayError): Judgement {
  const judgement = emptyJudgement();
  judgement.verdict = 'block';
  for (const d of (err.guardrail?.detectors as string[] | undefined) ?? []) judgement.detectors.add(`${direction}:${d}`);
  return judgement;
}

/** Undefined when no guardrails run or no policy applies to the call. */
export async function guardStage<B extends Record<string, unknown>>(
  guardrails: Guardrails | undefined, config: GatewayConfig, ctx: RequestContext, model: string, body: B, targetsOf: (body: B) => ScanTarget[],
): Promise<GuardedCall<B> | undefined> {
  if (!guardrails) return undefined;
  const caller = callerOf(ctx);
  const policy = guardrails.policyFor(caller, model);
  if (!policy) return undefined;
  // A model the caller may not use (or that does not exist) is refused as such, before any scan.
  authorizedAlias(config, ctx, model);
  const targets = targetsOf(body);
  const mark = startStage(ctx.timeline, 'guard');
  let copy: B | undefined;
  let verdict;
  // A client that goes away cancels the external scanners' calls.
  const gone = new AbortController();
  const unwatch = ctx.client.onGone(() => gone.abort());
  try {
    verdict = await guardrails.input(policy, targets, () => targetsOf(copy = cloneMessages(body)), caller, gone.signal);
  } catch (err) {
    if (err instanceof GatewayError && err.code === 'guardrail_blocked') note(ctx, blockedJudgement('input', err));
    throw err;
  } finally {
    unwatch();
    mark.end = performance.now();
  }
  note(ctx, verdict.judgement);
  const pseudonymizer = verdict.pseudonymizer;
  const systemPrompt = systemText(targets);
  const answer = async (texts: readonly ScanTarget[], at: RequestContext): Promise<void> => {
    try {
      note(at, await guardrails.output(policy, texts, systemPrompt, pseudonymizer, caller));
    } catch (err) {
      if (err instanceof GatewayError && err.code === 'guardrail_blocked') note(at, blockedJudgement('output', err));
      throw err;
    }
  };
  return {
    body: copy ?? body,
    changed: copy !== undefined,
    policy,
    guardrails,
    systemPrompt,
    ...(pseudonymizer ? { pseudonymizer } : {}),
    completion: (completion, at) => answer(completion.choices
      .filter((c) => typeof c.message.content === 'string')
      .map((c) => ({ role: 'completion', text: c.message.content as string, set: (text: string) => { c.message.content = text; } })), at),
    answer,
    merge: note,
  };
}
