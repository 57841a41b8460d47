// Delivers webhook bodies off the request path: a bounded queue, a few deliveries at once, a
// deadline per attempt and a few retries with backoff. send() never throws and never waits for
// the network before returning its promise, so a slow, failing or hanging receiver can only
// fill the queue (whose overflow is dropped and counted), never slow a request or grow memory.
//
// A timed-out attempt is not retried: the receiver may have got it, and a duplicate alert is
// worse than a missing retry of one that probably arrived.

import { createWebhookPost, WebhookStatusError, type PostFn, type WebhookPost } from './webhook-post.ts';
import type { WebhookTarget } from './webhook-target.ts';

export type FailureReason = 'timeout' | 'http_status' | 'network';
export type DropReason = 'queue_full' | 'closed';

export interface DeliveryOutcome {
  readonly outcome: 'sent' | 'failed' | 'dropped';
  /** The webhook's origin (never its full URL). */
  readonly webhook: string;
  /** POSTs made (0 when dropped). */
  readonly attempts: number;
  readonly reason?: FailureReason | DropReason;
  /** The last failure, with any part of the URL replaced by "[webhook]". */
  readonly error?: string;
}

export interface WebhookSenderStats {
  readonly sent: number;
  readonly failed: number;
  readonly dropped: number;
  readonly queued: number;
  readonly inFlight: number;
}

export interface WebhookSenderOptions {
  /** Per attempt. Default 5000. */
  readonly timeoutMs?: number;
  /** Retries after the first attempt, for network errors, 429 and 5xx. Default 2. */
  readonly retries?: number;
  /** Before the first retry; doubles for each further one. Default 500. */
  readonly backoffMs?: number;
  /** Bodies waiting beyond those in flight; more are dropped. Default 1000. */
  readonly maxQueued?: number;
  /** Deliveries in flight at once. Default 4. */
  readonly concurrency?: number;
  /** Replaces the undici POST (tests). */
  readonly post?: PostFn;
}

class WebhookTimeout extends Error {
  constructor(ms: number) {
    super(`no answer within ${ms} ms`);
    this.name = 'WebhookTimeout';
  }
}

interface Job {
  readonly target: WebhookTarget;
  readonly body: string;
  readonly done: (outcome: DeliveryOutcome) => void;
}

export class WebhookSender {
  readonly #timeoutMs: number;
  readonly #retries: number;
  readonly #backoffMs: number;
  readonly #maxQueued: number;
  readonly #concurrency: number;
  readonly #transport: WebhookPost;
  readonly #queue: Job[] = [];
  readonly #running = new Set<Promise<void>>();
  #closed = false;
  #sent = 0;
  #failed = 0;
  #dropped = 0;

  constructor(options: WebhookSenderOptions = {}) {
    this.#timeoutMs = options.timeoutMs ?? 5_000;
    this.#retries = Math.max(0, options.retries ?? 2);
    this.#backoffMs = options.backoffMs ?? 500;
    this.#maxQueued = options.maxQueued ?? 1_000;
    this.#concurrency = Math.max(1, options.concurrency ?? 4);
    this.#transport = options.post ? { post: options.post, close: async () => {} } : createWebhookPost(this.#timeoutMs);
  }

  /** Queues one POST; the promise resolves (never rejects) once it was sent, failed or dropped. */
  send(target: WebhookTarget, body: string): Promise<DeliveryOutcome> {
    if (this.#closed) return Promise.resolve(this.#drop(target, 'closed'));
    if (this.#queue.length >= this.#maxQueued) return Promise.resolve(this.#drop(target, 'queue_full'));
    return new Promise<DeliveryOutcome>((done) => {
      this.#queue.push({ target, body, done });
      this.#pump();
    });
  }

  stats(): WebhookSenderStats {
    return { sent: this.#sent, failed: this.#failed, dropped: this.#dropped, queued: this.#queue.length, inFlight: this.#running.size };
  }

  /** Resolves when nothing is queued or in flight (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.#queue.length > 0 || this.#running.size > 0) await Promise.all([...this.#running]);
  }

  /** Stops taking bodies, gives those queued up to `graceMs` to go out, drops the rest. Never rejects. */
  async close(graceMs = 2_000): Promise<void> {
    this.#closed = true;
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => { timer = setTimeout(resolve, graceMs); });
    try {
      await Promise.race([this.idle(), grace]);
    } finally {
      clearTimeout(timer);
    }
    for (const job of this.#queue.splice(0)) job.done(this.#drop(job.target, 'closed'));
    await this.#transport.close().catch(() => {});
  }

  #drop(target: WebhookTarget, reason: DropReason): DeliveryOutcome {
    this.#dropped += 1;
    return { outcome: 'dropped', webhook: target.origin, attempts: 0, reason };
  }

  #pump(): void {
    while (this.#running.size < this.#concurrency && this.#queue.length > 0) {
      const job = this.#queue.shift()!;
      const run = this.#deliver(job.target, job.body).then(job.done);
      this.#running.add(run);
      void run.finally(() => {
        this.#running.delete(run);
        this.#pump();
      });
    }
  }

  /** Never rejects. */
  async #deliver(target: WebhookTarget, body: string): Promise<DeliveryOutcome> {
    let failure: unknown;
    let attempt = 0;
    while (attempt <= this.#retries) {
      attempt += 1;
      try {
        await this.#postWithDeadline(target.url, body);
        this.#sent += 1;
        return { outcome: 'sent', webhook: target.origin, attempts: attempt };
      } catch (err) {
        failure = err;
        if (!retryable(err) || attempt > this.#retries || this.#closed) break;
        await new Promise((resolve) => setTimeout(resolve, this.#backoffMs * 2 ** (attempt - 1)));
      }
    }
    this.#failed += 1;
    const reason: FailureReason = failure instanceof WebhookTimeout ? 'timeout' : failure instanceof WebhookStatusError ? 'http_status' : 'network';
    return { outcome: 'failed', webhook: target.origin, attempts: attempt, reason, error: target.redact(failure) };
  }

  /** Rejects with WebhookTimeout when the deadline passes first, whatever the transport does. */
  async #postWithDeadline(url: string, body: string): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new WebhookTimeout(this.#timeoutMs)), this.#timeoutMs);
    });
    try {
      // A transport that throws synchronously is a failed attempt like any other.
      await Promise.race([Promise.resolve().then(() => this.#transport.post(url, body)), deadline]);
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Network errors, 429 and 5xx may pass on a second try; other 4xx and timeouts are not retried. */
function retryable(err: unknown): boolean {
  if (err instanceof WebhookTimeout) return false;
  if (err instanceof WebhookStatusError) return err.status === 429 || err.status >= 500;
  return true;
}
