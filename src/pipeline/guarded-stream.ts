// The output guard on a streamed chat completion: each choice's text goes through a StreamGuard
// (src/guardrails/stream-guard.ts) that holds back only as many characters as the longest
// pattern needs, redacts mid-stream, and on a block ends the stream with a well-formed error
// event (the relay writes it). Chunks keep their shape; a chunk whose only text was held back is
// not sent. Where the policy restores the caller's own redacted values, placeholders are put
// back as they complete (one split across chunks is held until its closing bracket).

import { GatewayError } from '../errors/gateway-error.ts';
import type { Finding } from '../guardrails/detector.ts';
import { actionFor, emptyJudgement, judge, type Judgement } from '../guardrails/guard-verdict.ts';
import { Pseudonymizer } from '../guardrails/placeholders.ts';
import { ChoiceGuards, type StreamStep } from '../guardrails/stream-guard.ts';
import type { ChatChunk } from '../providers/types.ts';
import type { GuardedCall } from './guard-stage.ts';
import type { RequestContext } from './request-context.ts';

/** Longest placeholder held back while its closing bracket has not arrived ("[" + type + "_" + n + "]"). */
const MAX_PLACEHOLDER = 42;

/** Holds back a trailing "[..." that may be the start of a placeholder, and restores whole ones. */
class Restorer {
  #held = '';
  readonly #restore: (text: string) => string;

  constructor(restore: (text: string) => string) {
    this.#restore = restore;
  }

  push(text: string): string {
    const all = this.#held + text;
    const open = all.lastIndexOf('[');
    const cut = open >= 0 && all.indexOf(']', open) < 0 && all.length - open <= MAX_PLACEHOLDER ? open : all.length;
    this.#held = all.slice(cut);
    return this.#restore(all.slice(0, cut));
  }

  end(): string {
    const rest = this.#held;
    this.#held = '';
    return this.#restore(rest);
  }
}

export class GuardedStream {
  readonly #guarded: GuardedCall<Record<string, unknown>>;
  readonly #ctx: RequestContext;
  /** Detectors whose findings block or are redacted: their text is held until it is settled. */
  readonly #holding: ChoiceGuards | undefined;
  /** Detectors whose findings are only flagged: nothing is held for them. */
  readonly #flagging: ChoiceGuards | undefined;
  readonly #restorers = new Map<number, Restorer>();
  readonly #judgement: Judgement = emptyJudgement();
  readonly #started = performance.now();
  #blocked: Finding[] | undefined;
  #recorded = false;

  constructor(guarded: GuardedCall<Record<string, unknown>>, ctx: RequestContext) {
    this.#guarded = guarded;
    this.#ctx = ctx;
    const { policy } = guarded;
    // Placeholders are numbered per request, consistently with the prompt's.
    const names = guarded.pseudonymizer ?? new Pseudonymizer();
    const detectors = guarded.guardrails.outputDetectors(policy, guarded.systemPrompt);
    const acting = detectors.filter((d) => ['block', 'redact'].includes(actionFor(policy, 'output', d.kind)));
    const flagged = detectors.filter((d) => actionFor(policy, 'output', d.kind) === 'flag');
    this.#holding = acting.length === 0 ? undefined : new ChoiceGuards({
      detectors: acting,
      action: 'redact',
      // Per finding: block stops the stream, redact replaces the span.
      redactor: (text, findings) => {
        const replace: Finding[] = [];
        for (const f of findings) {
          const action = f.score < policy.minScore ? 'off' : actionFor(policy, 'output', f.kind);
          if (action === 'block') this.#blocked = [...(this.#blocked ?? []), f];
          else if (action === 'redact') replace.push(f);
        }
        return replace.length === 0 ? text : names.redact(text, replace, { restorable: false });
      },
    });
    this.#flagging = flagged.length === 0 ? undefined : new ChoiceGuards({ detectors: flagged, action: 'flag' });
  }

  /** The chunks to send for one upstream chunk (throws guardrail_blocked when the policy blocks). */
  chunk(chunk: ChatChunk): ChatChunk[] {
    const out: ChatChunk[] = [];
    for (const choice of chunk.choices) {
      const content = choice.delta?.content;
      if (typeof content === 'string' && content !== '') choice.delta.content = this.#text(choice.index, this.#push(choice.index, content));
      if (choice.finish_reason) {
        const rest = this.#text(choice.index, this.#end(choice.index), true);
        if (rest !== '') out.push({ ...chunk, choices: [{ index: choice.index, delta: { content: rest }, logprobs: null, finish_reason: null }], usage: null });
      }
    }
    const keep = chunk.choices.filter((c) => !(c.delta && Object.keys(c.delta).length === 1 && c.delta.content === '' && !c.finish_reason));
    if (keep.length > 0 || chunk.choices.length === 0) out.push(keep.length === chunk.choices.length ? chunk : { ...chunk, choices: keep });
    return out;
  }

  /** Text still held when the stream ends without a finish reason (a chunk per choice). */
  end(template: Pick<ChatChunk, 'id' | 'created' | 'model'>): ChatChunk[] {
    const out: ChatChunk[] = [];
    if (this.#flagging) for (const step of this.#flagging.endAll().values()) this.#step(step);
    if (this.#holding) {
      for (const [index, step] of this.#holding.endAll()) {
        const rest = this.#text(index, this.#step(step), true);
        if (rest !== '') out.push({ ...template, object: 'chat.completion.chunk', choices: [{ index, delta: { content: rest }, logprobs: null, finish_reason: null }] });
      }
    }
    this.finish();
    return out;
  }

  #push(index: number, content: string): string {
    if (this.#flagging) this.#step(this.#flagging.choice(index).push(content));
    return this.#holding ? this.#step(this.#holding.choice(index).push(content)) : content;
  }

  #end(index: number): string {
    if (this.#flagging) this.#step(this.#flagging.choice(index).end());
    return this.#holding ? this.#step(this.#holding.choice(index).end()) : '';
  }

  /** Records the output verdict (once), on the ledger and in the metrics. */
  finish(): void {
    if (this.#recorded) return;
    this.#recorded = true;
    this.#guarded.guardrails.record(this.#guarded.policy, 'output', this.#judgement, this.#started);
    this.#guarded.merge(this.#ctx, this.#judgement);
  }

  #step(step: StreamStep): string {
    if (step.findings.length > 0) judge(this.#guarded.policy, 'output', step.findings, this.#judgement);
    const blocked = step.blocked ?? this.#blocked;
    if (blocked) {
      this.#judgement.verdict = 'block';
      this.finish();
      const detectors = [...new Set(blocked.map((f) => f.detector))];
      throw new GatewayError('guardrail_blocked', `The answer was blocked by guardrail policy "${this.#guarded.policy.name}": ${[...new Set(blocked.map((f) => f.reason))].join('; ')}. Detectors: ${detectors.join(', ')}.`, { guardrail: { direction: 'output', detectors } });
    }
    return step.emit;
  }

  #text(index: number, text: string, last = false): string {
    const { policy, pseudonymizer } = this.#guarded;
    if (!policy.restorePii || !pseudonymizer) return text;
    let restorer = this.#restorers.get(index);
    if (!restorer) this.#restorers.set(index, (restorer = new Restorer((t) => pseudonymizer.restore(t))));
    const out = restorer.push(text);
    return last ? out + restorer.end() : out;
  }
}
