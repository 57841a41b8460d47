// The exporter against an in-process fake Langfuse: batching, retries, partial failures, bad
// keys, a Langfuse that hangs or refuses connections, the queue bound and close's deadline.
// No assertion bounds wall-clock time; each test's own timeout is the only clock.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLogger } from '../../src/logging/logger.ts';
import { LangfuseExporter, type ExportOutcome, type ExportReason, type LangfuseExporterOptions } from '../../src/telemetry/langfuse/langfuse-exporter.ts';
import { freePort } from '../helpers/free-port.ts';
import { finishedCall } from './langfuse-calls.ts';
import { allAccepted, PUBLIC_KEY, SECRET_KEY, startFakeLangfuse, until, type FakeLangfuse } from './langfuse-fake-server.ts';

const TIMEOUT = { timeout: 60_000 };

interface Harness {
  readonly exporter: LangfuseExporter;
  readonly counts: Array<[ExportOutcome, ExportReason, number]>;
  /** Log lines written so far. */
  logs(): string;
  total(outcome: ExportOutcome, reason?: ExportReason): number;
}

function harness(host: string, options: Partial<LangfuseExporterOptions> = {}): Harness {
  const lines: string[] = [];
  const logger = createLogger({ level: 'debug', write: (text) => lines.push(text), flushMs: 1 });
  const counts: Array<[ExportOutcome, ExportReason, number]> = [];
  const exporter = new LangfuseExporter({
    host, publicKey: PUBLIC_KEY, secretKey: SECRET_KEY, logger,
    flushIntervalMs: 60_000, retryBaseMs: 1, retryMaxMs: 5,
    onCount: (outcome, reason, events) => counts.push([outcome, reason, events]),
    ...options,
  });
  return {
    exporter,
    counts,
    logs: () => {
      logger.flush();
      return lines.join('');
    },
    total: (outcome, reason) => counts.filter(([o, r]) => o === outcome && (reason === undefined || r === reason)).reduce((sum, [, , n]) => sum + n, 0),
  };
}

function assertNoSecret(h: Harness): void {
  const logs = h.logs();
  assert.ok(!logs.includes(SECRET_KEY), 'the secret key is never logged');
  assert.ok(!logs.includes(Buffer.from(`${PUBLIC_KEY}:${SECRET_KEY}`).toString('base64')), 'nor the Authorization header');
}

async function withFake(respond: Parameters<typeof startFakeLangfuse>[0], body: (fake: FakeLangfuse) => Promise<void>): Promise<void> {
  const fake = await startFakeLangfuse(respond);
  try {
    await body(fake);
  } finally {
    await fake.close();
  }
}

test('each call reaches Langfuse as a trace and a generation, with Basic auth and the documented body', TIMEOUT, () =>
  withFake(allAccepted, async (fake) => {
    const h = harness(fake.url);
    const calls = [finishedCall(), finishedCall(), finishedCall({}, { text: { prompt: { messages: [{ role: 'user', content: 'hi' }] }, completion: 'hello' } })];
    for (const call of calls) assert.equal(h.exporter.observe(call), undefined);
    assert.equal(h.exporter.stats().queued, 6, 'observe only queues');
    assert.equal(fake.requests.length, 0);
    await h.exporter.flush();

    assert.equal(fake.requests.length, 1);
    const [req] = fake.requests;
    assert.ok(req!.authorized, 'Basic base64(public_key:secret_key)');
    assert.deepEqual(req!.problems, []);
    assert.deepEqual(req!.batch.map((e) => e.type), ['trace-create', 'generation-create', 'trace-create', 'generation-create', 'trace-create', 'generation-create']);
    assert.deepEqual(req!.batch.filter((e) => e.type === 'generation-create').map((e) => e.body.id), calls.map((c) => c.event.event_id));
    assert.equal(req!.batch[5]!.body.output, 'hello');
    assert.deepEqual(h.exporter.stats(), { queued: 0, sent: 6, dropped: 0, failed: 0, requests: 1, retries: 0, textsOmitted: 0 });
    assert.deepEqual(h.counts, [['sent', 'accepted', 6]]);
    await h.exporter.close();
  }));

test('a partial batch is sent when the flush interval passes', TIMEOUT, () =>
  withFake(allAccepted, async (fake) => {
    const h = harness(fake.url, { flushIntervalMs: 20 });
    h.exporter.observe(finishedCall());
    await until(() => fake.requests.length === 1, 'the interval flush');
    assert.equal(fake.requests[0]!.batch.length, 2);
    await h.exporter.close();
  }));

test('an interval flush sends everything that was waiting, even when the byte limit splits it', TIMEOUT, () =>
  withFake(allAccepted, async (fake) => {
    const h = harness(fake.url, { flushIntervalMs: 20, maxBatchBytes: 5_000 });
    for (let i = 0; i < 3; i++) h.exporter.observe(finishedCall());
    await until(() => fake.envelopes().length === 6, 'all six events');
    assert.ok(fake.requests.length > 1);
    await h.exporter.close();
  }));

test('a full batch is sent at once, without waiting for the interval; the remainder waits', TIMEOUT, () =>
  withFake(allAccepted, async (fake) => {
    const h = harness(fake.url, { batchSize: 4 });
    h.exporter.observe(finishedCall());
    h.exporter.observe(finishedCall());
    h.exporter.observe(finishedCall());
    await until(() => h.exporter.stats().sent === 4, 'the full batch');
    assert.equal(fake.requests.length, 1);
    assert.equal(fake.requests[0]!.batch.length, 4);
    assert.equal(h.exporter.stats().queued, 2, 'less than a batch waits for the interval');
    await h.exporter.flush();
    assert.equal(fake.requests.length, 2);
    await h.exporter.close();
  }));

test('batches hold at most batch_size events and stay under the byte limit; a call may span two batches', TIMEOUT, () =>
  withFake(allAccepted, async (fake) => {
    const h = harness(fake.url, { batchSize: 3 });
    for (let i = 0; i < 5; i++) h.exporter.observe(finishedCall());
    await h.exporter.flush();
    assert.deepEqual(fake.requests.map((r) => r.batch.length), [3, 3, 3, 1]);
    assert.equal(new Set(fake.envelopes().map((e) => e.id)).size, 10, 'every event once');

    const maxBatchBytes = 12_000;
    const sized = harness(fake.url, { maxBatchBytes });
    const text = 'a sentence of prompt text that takes up room. '.repeat(60);
    for (let i = 0; i < 6; i++) sized.exporter.observe(finishedCall({}, { text: { prompt: { messages: [{ role: 'user', content: text }] }, completion: text } }));
    const before = fake.requests.length;
    await sized.exporter.flush();
    const requests = fake.requests.slice(before);
    assert.ok(requests.length > 1);
    for (const r of requests) assert.ok(r.bytes <= maxBatchBytes, `a ${r.bytes}-byte request`);
    assert.equal(requests.reduce((n, r) => n + r.batch.length, 0), 12);
    await Promise.all([h.exporter.close(), sized.exporter.close()]);
  }));

test('207 with per-event errors: refused events are counted, failed ones alone are sent again, accepted ones never', TIMEOUT, () =>
  withFake(allAccepted, async (fake) => {
    let refused = '';
    let flaky = '';
    fake.respond = (req) => {
      if (req.n === 1) {
        refused = req.batch[1]!.id;
        flaky = req.batch[2]!.id;
        return {
          status: 207,
          body: {
            successes: req.batch.filter((e) => e.id !== refused && e.id !== flaky).map((e) => ({ id: e.id, status: 201 })),
            errors: [
              { id: refused, status: 400, message: 'Invalid request data', error: 'usageDetails.input: expected integer' },
              { id: flaky, status: 500, error: 'Internal Server Error' },
            ],
          },
        };
      }
      return allAccepted(req);
    };
    const h = harness(fake.url);
    for (let i = 0; i < 3; i++) h.exporter.observe(finishedCall());
    await h.exporter.flush();
    assert.equal(fake.requests.length, 2);
    assert.deepEqual(fake.requests[1]!.batch.map((e) => e.id), [flaky], 'only the event that failed on Langfuse\'s side');
    assert.equal(h.total('sent'), 5);
    assert.equal(h.total('failed', 'rejected'), 1);
    assert.equal(h.exporter.stats().retries, 1);
    assert.match(h.logs(), /events refused by Langfuse.*usageDetails\.input: expected integer/);
    await h.exporter.close();
  }));

test('500, then success: the same events (same ids) are sent again, once', TIMEOUT, () =>
  withFake(allAccepted, async (fake) => {
    fake.respond = (req) => (req.n === 1 ? { status: 500, body: { message: 'Invalid request data', errors: ['Redis not initialized'] } } : allAccepted(req));
    const h = harness(fake.url);
    h.exporter.observe(finishedCall());
    await h.exporter.flush();
    assert.equal(fake.requests.length, 2);
    assert.deepEqual(fake.requests[1]!.batch, fake.requests[0]!.batch);
    assert.deepEqual(h.exporter.stats(), { queued: 0, sent: 2, dropped: 0, failed: 0, requests: 2, retries: 1, textsOmitted: 0 });
    await h.exporter.close();
  }));

test('429 is retried after Retry-After', TIMEOUT, () =>
  withFake(allAccepted, async (fake) => {
    fake.respond = (req) => (req.n === 1 ? { status: 429, headers: { 'retry-after': '0' }, body: { message: 'rate limit exceeded' } } : allAccepted(req));
    const h = harness(fake.url, { retryBaseMs: 60_000, retryMaxMs: 60_000 });
    h.exporter.observe(finishedCall());
    await h.exporter.flush();
    assert.equal(fake.requests.length, 2, 'Retry-After: 0 instead of the (long) backoff');
    assert.equal(h.total('sent'), 2);
    await h.exporter.close();
  }));

test('5xx until the retries run out: the batch is dropped and counted', TIMEOUT, () =>
  withFake(() => ({ status: 503, body: { message: 'down' } }), async (fake) => {
    const h = harness(fake.url, { maxRetries: 2 });
    h.exporter.observe(finishedCall());
    await h.exporter.flush();
    assert.equal(fake.requests.length, 3);
    assert.equal(h.total('dropped', 'retries_exhausted'), 2);
    assert.match(h.logs(), /not delivered after retries/);
    assertNoSecret(h);
    await h.exporter.close();
  }));

test('401: logged once as an error, nothing retried, every batch dropped and counted', TIMEOUT, () =>
  withFake(allAccepted, async (fake) => {
    const h = harness(fake.url, { secretKey: 'sk-lf-the-wrong-secret-0000' });
    h.exporter.observe(finishedCall());
    await h.exporter.flush();
    h.exporter.observe(finishedCall());
    await h.exporter.flush();
    assert.equal(fake.requests.length, 2, 'one request per batch: no retry');
    assert.ok(fake.requests.every((r) => !r.authorized));
    assert.equal(h.total('dropped', 'unauthorized'), 4);
    const errors = h.logs().split('\n').filter((l) => l.includes('"level":"error"'));
    assert.equal(errors.length, 1);
    assert.match(errors[0]!, /refused the credentials/);
    assert.match(errors[0]!, /"status":401/);
    assert.match(errors[0]!, /Invalid credentials/, 'with Langfuse\'s own words');
    assert.ok(!h.logs().includes('sk-lf-the-wrong-secret-0000'));
    await h.exporter.close();
  }));

test('413: the batch is split until it fits', TIMEOUT, () =>
  withFake(allAccepted, async (fake) => {
    fake.respond = (req) => (req.batch.length > 2 ? { status: 413, body: { message: 'Body exceeded 4.5mb limit' } } : allAccepted(req));
    const h = harness(fake.url);
    for (let i = 0; i < 3; i++) h.exporter.observe(finishedCall());
    await h.exporter.flush();
    assert.equal(h.total('sent'), 6);
    assert.equal(new Set(fake.requests.filter((r) => r.batch.length <= 2).flatMap((r) => r.batch.map((e) => e.id))).size, 6);
    await h.exporter.close();
  }));

test('refused connections: observe never throws or waits; batches are retried, then dropped and counted', TIMEOUT, async () => {
  const port = await freePort();
  const h = harness(`http://127.0.0.1:${port}`, { maxRetries: 1, batchSize: 10 });
  for (let i = 0; i < 20; i++) assert.equal(h.exporter.observe(finishedCall()), undefined);
  await h.exporter.flush();
  assert.equal(h.total('dropped', 'retries_exhausted'), 40);
  assert.equal(h.exporter.stats().requests, 8, '4 batches, 2 tries each');
  assert.match(h.logs(), /ECONNREFUSED/);
  assertNoSecret(h);
  await h.exporter.close();
});

test('a Langfuse that accepts and never answers: each request ends at timeout_ms, nothing is thrown', TIMEOUT, () =>
  withFake(() => 'hang', async (fake) => {
    const h = harness(fake.url, { timeoutMs: 100, maxRetries: 1 });
    h.exporter.observe(finishedCall());
    assert.equal(h.exporter.stats().queued, 2);
    await h.exporter.flush();
    assert.equal(fake.requests.length, 2);
    assert.equal(h.total('dropped', 'retries_exhausted'), 2);
    await h.exporter.close();
  }));

test('close() keeps its deadline while Langfuse hangs, drops and counts what is left, and never rejects', TIMEOUT, () =>
  withFake(() => 'hang', async (fake) => {
    // A request timeout far beyond the test's own: passing proves close() did not wait for it.
    const h = harness(fake.url, { timeoutMs: 600_000, closeTimeoutMs: 100, flushIntervalMs: 10 });
    h.exporter.observe(finishedCall());
    await until(() => fake.requests.length === 1, 'the hanging request');
    h.exporter.observe(finishedCall());
    await h.exporter.close();
    assert.equal(h.total('dropped', 'closed'), 4, 'the batch in flight and the one queued');
    assert.equal(h.total('sent'), 0);
    h.exporter.observe(finishedCall());
    assert.equal(h.total('dropped', 'closed'), 6, 'after close, calls are dropped and counted');
    await h.exporter.close();
  }));

test('close() sends what is queued before it resolves', TIMEOUT, () =>
  withFake(allAccepted, async (fake) => {
    const h = harness(fake.url);
    for (let i = 0; i < 3; i++) h.exporter.observe(finishedCall());
    await h.exporter.close();
    assert.equal(fake.envelopes().length, 6);
    assert.equal(h.total('sent'), 6);
  }));

test('the queue is bounded: beyond max_queue events, calls are dropped and counted, and it says so once', TIMEOUT, () =>
  withFake(allAccepted, async (fake) => {
    const h = harness(fake.url, { maxQueue: 4 });
    for (let i = 0; i < 5; i++) h.exporter.observe(finishedCall());
    assert.equal(h.exporter.stats().queued, 4);
    assert.equal(h.total('dropped', 'queue_full'), 6);
    assert.equal(h.logs().match(/export queue full/g)?.length, 1);
    await h.exporter.close();
    assert.equal(fake.envelopes().length, 4);
  }));

test('at most max_queued_texts waiting calls keep their prompt; later ones are sent without it', TIMEOUT, () =>
  withFake(allAccepted, async (fake) => {
    const h = harness(fake.url, { maxQueuedTexts: 2 });
    const text = { prompt: { messages: [{ role: 'user', content: 'hi' }] }, completion: 'hello' };
    for (let i = 0; i < 3; i++) h.exporter.observe(finishedCall({}, { text }));
    assert.equal(h.exporter.stats().textsOmitted, 1);
    await h.exporter.flush();
    const generations = fake.envelopes().filter((e) => e.type === 'generation-create');
    assert.deepEqual(generations.map((g) => g.body.output), ['hello', 'hello', undefined]);
    h.exporter.observe(finishedCall({}, { text }));
    await h.exporter.flush();
    assert.equal(fake.envelopes().at(-1)!.body.output, 'hello', 'converted calls free their place');
    assert.match(h.logs(), /without their prompt and completion/);
    await h.exporter.close();
  }));

test('a throwing metrics callback does not stop the exporter', TIMEOUT, () =>
  withFake(allAccepted, async (fake) => {
    const h = harness(fake.url, { onCount: () => { throw new Error('metrics down'); }, maxQueue: 2 });
    h.exporter.observe(finishedCall());
    h.exporter.observe(finishedCall());
    await h.exporter.flush();
    assert.equal(fake.envelopes().length, 2);
    assert.equal(h.exporter.stats().dropped, 2);
    await h.exporter.close();
  }));
