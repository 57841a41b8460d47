// Delivers one batch to Langfuse and counts every event in it exactly once: sent, dropped or
// failed. Network errors, timeouts, 429 and 5xx are retried with full-jitter backoff (Retry-After
// when Langfuse gives one) up to maxRetries times; a 207's per-event errors are counted, and only
// the events that failed on Langfuse's side (5xx, 429) are sent again, never the accepted ones;
// 401/403 is logged once as an error and the batch dropped; 413 splits the batch; other refusals
// are logged (throttled) and counted. The stop signal (close's deadline) ends the request in
// flight and any wait at once, and what is left is dropped as `closed`.

import type { Logger } from '../../logging/logger.ts';
import { retryAfterSeconds } from '../../providers/shared/upstream-errors.ts';
import { fullJitterMs } from '../../routing/backoff.ts';
import { batchBody, errorText, judgeBatch, statusAction, type SerializedEvent } from './ingestion-batch.ts';
import type { IngestionAnswer, IngestionClient } from './ingestion-client.ts';
import type { ThrottledLog } from './throttled-log.ts';

export type ExportOutcome = 'sent' | 'dropped' | 'failed';

/**
 * Why events were counted (a short, fixed set, fit for a metric label):
 * - sent: `accepted`;
 * - dropped (never stored, for reasons on this side or a dead connection): `queue_full`, `closed`,
 *   `too_large` (one event over the batch limit), `unauthorized` (401/403), `retries_exhausted`,
 *   `invalid` (the call could not be converted);
 * - failed (Langfuse answered and refused them): `rejected` (a 207's per-event errors), `refused`
 *   (the whole batch: 400, 404, …).
 */
export type ExportReason = 'accepted' | 'queue_full' | 'closed' | 'too_large' | 'unauthorized' | 'retries_exhausted' | 'invalid' | 'rejected' | 'refused';

/** Where the delivery reports its counts. */
export interface DeliveryTally {
  count(outcome: ExportOutcome, reason: ExportReason, events: number): void;
  /** A request is about to be made (a retry, or a first try). */
  request(retry: boolean): void;
}

export interface BatchDeliveryOptions {
  readonly client: IngestionClient;
  readonly logger: Logger;
  /** For the warnings that repeat with every batch while Langfuse fails. */
  readonly warn: ThrottledLog;
  readonly tally: DeliveryTally;
  /** Logged with a refusal of the credentials (it is not secret; it names the project). */
  readonly publicKey: string;
  /** Removes the secret key from text before it is logged. */
  readonly scrub: (text: string) => string;
  readonly maxRetries: number;
  readonly retryBaseMs: number;
  readonly retryMaxMs: number;
  readonly random: () => number;
  /** Aborted at close's deadline. */
  readonly stop: AbortSignal;
}

export class BatchDelivery {
  readonly #o: BatchDeliveryOptions;
  #unauthorizedLogged = false;

  constructor(options: BatchDeliveryOptions) {
    this.#o = options;
  }

  /** Sends the batch with its retries. Never rejects. */
  async deliver(events: readonly SerializedEvent[]): Promise<void> {
    const { client, tally, stop } = this.#o;
    let pending = events;
    for (let attempt = 0; ; attempt++) {
      if (stop.aborted) {
        tally.count('dropped', 'closed', pending.length);
        return;
      }
      tally.request(attempt > 0);
      let answer: IngestionAnswer | undefined;
      let failure = '';
      try {
        answer = await client.post(batchBody(pending), stop);
      } catch (err) {
        failure = describeError(err, this.#o.scrub);
      }
      let retryAfterMs: number | undefined;
      if (answer) {
        const action = statusAction(answer.status);
        if (action === 'judge') {
          const retry = this.#judged(pending, answer.text);
          if (retry.length === 0) return;
          pending = retry;
          failure = `${retry.length} events failed on Langfuse's side (HTTP ${answer.status})`;
        } else if (action === 'unauthorized') {
          this.#unauthorized(answer);
          tally.count('dropped', 'unauthorized', pending.length);
          return;
        } else if (action === 'too_large') {
          await this.#split(pending);
          return;
        } else if (action === 'refused') {
          tally.count('failed', 'refused', pending.length);
          this.#o.warn.log('warn', 'refused', 'langfuse: batch refused; dropped', {
            status: answer.status, events: pending.length, host: client.origin, message: this.#o.scrub(errorText(answer.text)),
          });
          return;
        } else {
          failure = `HTTP ${answer.status}`;
          const seconds = retryAfterSeconds(answer.headers);
          if (seconds !== undefined) retryAfterMs = seconds * 1000;
        }
      }
      if (attempt >= this.#o.maxRetries) {
        tally.count('dropped', 'retries_exhausted', pending.length);
        this.#o.warn.log('warn', 'retries_exhausted', 'langfuse: batch not delivered after retries; dropped', {
          events: pending.length, attempts: attempt + 1, host: client.origin, error: failure,
        });
        return;
      }
      const { retryBaseMs, retryMaxMs, random } = this.#o;
      await this.#sleep(retryAfterMs !== undefined ? Math.min(retryAfterMs, retryMaxMs) : fullJitterMs(attempt, retryBaseMs, retryMaxMs, random));
    }
  }

  /** Counts a 2xx answer's accepted and refused events; returns those to send again. */
  #judged(pending: readonly SerializedEvent[], text: string): readonly SerializedEvent[] {
    const verdict = judgeBatch(pending, text);
    this.#o.tally.count('sent', 'accepted', verdict.accepted.length);
    if (verdict.rejected.length > 0) {
      this.#o.tally.count('failed', 'rejected', verdict.rejected.length);
      const sample = verdict.rejected[0]!;
      this.#o.warn.log('warn', 'rejected', 'langfuse: events refused by Langfuse', {
        events: verdict.rejected.length, status: sample.status, event_id: sample.id, message: this.#o.scrub(sample.message),
      });
    }
    return verdict.retry;
  }

  /** 413: halves are sent on their own (each with its retries); a single event is dropped. */
  async #split(pending: readonly SerializedEvent[]): Promise<void> {
    if (pending.length > 1) {
      const half = Math.ceil(pending.length / 2);
      await this.deliver(pending.slice(0, half));
      await this.deliver(pending.slice(half));
      return;
    }
    this.#o.tally.count('dropped', 'too_large', pending.length);
    this.#o.warn.log('warn', 'too_large', 'langfuse: an event is larger than Langfuse accepts (HTTP 413); dropped', { event_id: pending[0]?.id });
  }

  /** The first 401/403 is an error worth paging on; the same again would only be noise. */
  #unauthorized(answer: IngestionAnswer): void {
    const fields = { status: answer.status, host: this.#o.client.origin, public_key: this.#o.publicKey, message: this.#o.scrub(errorText(answer.text)) };
    if (this.#unauthorizedLogged) {
      this.#o.logger.debug('langfuse: credentials refused again; batch dropped', fields);
      return;
    }
    this.#unauthorizedLogged = true;
    this.#o.logger.error(
      'langfuse: Langfuse refused the credentials (or the project may not ingest); every batch is dropped until this is fixed. Check langfuse.host, public_key and secret_key',
      fields,
    );
  }

  /** Waits `ms`, or less if the stop signal comes first. */
  #sleep(ms: number): Promise<void> {
    const { stop } = this.#o;
    if (ms <= 0 || stop.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        stop.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      timer.unref();
      stop.addEventListener('abort', done, { once: true });
    });
  }
}

/** An error as `CODE: message` (undici's codes say what happened: ECONNREFUSED, UND_ERR_HEADERS_TIMEOUT…), scrubbed. */
export function describeError(err: unknown, scrub: (text: string) => string): string {
  const text = err instanceof Error ? `${(err as NodeJS.ErrnoException).code ?? err.name}: ${err.message}` : String(err);
  return scrub(text);
}
