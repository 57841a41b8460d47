import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BATCH_OVERHEAD, BatchBuilder, batchBody, errorText, judgeBatch, serializeEvent, statusAction, type SerializedEvent } from '../../src/telemetry/langfuse/ingestion-batch.ts';
import { toIngestionEvents } from '../../src/telemetry/langfuse/ingestion-events.ts';
import { finishedCall } from './langfuse-calls.ts';

function serialized(n: number, text?: string): SerializedEvent[] {
  const out: SerializedEvent[] = [];
  for (let i = 0; i < n; i++) {
    const call = finishedCall({}, text ? { text: { prompt: { messages: [{ role: 'user', content: text }] }, completion: text } } : {});
    for (const event of toIngestionEvents(call, { maxTextChars: 1_000_000 })) out.push(serializeEvent(event, 3_500_000)!);
  }
  return out;
}

test('an event is serialized once, with its size in UTF-8 bytes', () => {
  const [event] = toIngestionEvents(finishedCall(), { maxTextChars: 1000 });
  const s = serializeEvent(event, 3_500_000)!;
  assert.equal(s.id, event.id);
  assert.deepEqual(JSON.parse(s.json), JSON.parse(JSON.stringify(event)));
  assert.equal(s.bytes, Buffer.byteLength(s.json), 'the tags hold multi-byte characters: bytes, not characters');
  assert.ok(s.bytes > s.json.length);
  assert.equal(s.textOmitted, false);
});

test('an event too large for a batch goes without its prompt and completion, or not at all', () => {
  const big = 'word '.repeat(40_000);
  const [, generation] = toIngestionEvents(finishedCall({}, { text: { prompt: { messages: [{ role: 'user', content: big }] }, completion: big } }), { maxTextChars: 1_000_000 });
  const slim = serializeEvent(generation, 50_000)!;
  assert.equal(slim.textOmitted, true);
  const body = JSON.parse(slim.json).body;
  assert.ok(!('input' in body) && !('output' in body));
  assert.equal(body.metadata.text_omitted, 'too_large');
  assert.equal(body.model, 'gpt-4o', 'the rest of the generation is kept');
  assert.equal(serializeEvent(generation, 500), undefined, 'nothing fits in 500 bytes');
});

test('batches stop at the event count and at the byte limit; the body is the documented {batch: [...]}', () => {
  const events = serialized(3);
  const byCount = new BatchBuilder(3, 3_500_000);
  assert.deepEqual(events.map((e) => byCount.add(e)), [true, true, true, false, false, false]);
  assert.equal(byCount.full, true);
  const body = JSON.parse(batchBody(byCount.events));
  assert.deepEqual(Object.keys(body), ['batch']);
  assert.deepEqual(body.batch.map((e: { id: string }) => e.id), events.slice(0, 3).map((e) => e.id));

  const textual = serialized(6, 'some text to make each event about two kilobytes long '.repeat(30));
  const limit = textual[0]!.bytes + textual[1]!.bytes + textual[2]!.bytes + BATCH_OVERHEAD + 2;
  const byBytes = new BatchBuilder(100, limit);
  let added = 0;
  for (const e of textual) if (byBytes.add(e)) added++;
  assert.ok(added >= 2 && added <= 3);
  assert.ok(Buffer.byteLength(batchBody(byBytes.events)) <= limit, 'the whole request body is under the limit');
});

test('a 207 answer: per-event errors are refused for good (4xx) or sent again (5xx, 429); the rest was accepted', () => {
  const events = serialized(2);
  const answer = JSON.stringify({
    successes: [{ id: events[0]!.id, status: 201 }],
    errors: [
      { id: events[1]!.id, status: 400, message: 'Invalid request data', error: 'startTime: Invalid datetime' },
      { id: events[2]!.id, status: 500, error: 'Internal Server Error' },
      { id: events[3]!.id, status: 429 },
      { id: 'not-ours', status: 400 },
    ],
  });
  const verdict = judgeBatch(events, answer);
  assert.deepEqual(verdict.accepted.map((e) => e.id), [events[0]!.id]);
  assert.deepEqual(verdict.rejected, [{ id: events[1]!.id, status: 400, message: 'Invalid request data: startTime: Invalid datetime' }]);
  assert.deepEqual(verdict.retry.map((e) => e.id), [events[2]!.id, events[3]!.id]);

  assert.equal(judgeBatch(events, 'not json').accepted.length, 4, 'a 2xx without the documented body accepted everything');
  assert.equal(judgeBatch(events, '').accepted.length, 4);
});

test('what a status means for the batch', () => {
  assert.deepEqual([200, 201, 207].map(statusAction), ['judge', 'judge', 'judge']);
  assert.deepEqual([401, 403].map(statusAction), ['unauthorized', 'unauthorized']);
  assert.equal(statusAction(413), 'too_large');
  assert.deepEqual([408, 429, 500, 502, 503, 504].map(statusAction), Array(6).fill('retry'));
  assert.deepEqual([301, 400, 404, 405].map(statusAction), Array(4).fill('refused'));
});

test('error text from Langfuse\'s answers, shortened', () => {
  assert.equal(errorText(JSON.stringify({ error: 'UnauthorizedError', message: 'Invalid credentials' })), 'UnauthorizedError: Invalid credentials');
  assert.equal(errorText('  Bad Gateway \n'), 'Bad Gateway');
  assert.ok(errorText('x'.repeat(10_000)).length <= 301);
});
