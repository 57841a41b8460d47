import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SseParser, formatSseEvent } from '../../../src/providers/shared/sse-parser.ts';
import { parseSse, splitEvery, SPLITS } from '../../helpers/fixtures.ts';

const STREAM = Buffer.from(
  ': keep-alive comment\n' +
  'event: message_start\ndata: {"a":1}\n\n' +
  'data: first line\ndata: second line\n\n' +
  'id: 7\r\ndata: crlf é ✓ 😀\r\n\r\n' +
  'data:no-space\rdata: cr-only\r\r' +
  'data: [DONE]\n\n',
  'utf8',
);

const EXPECTED = [
  { event: 'message_start', data: '{"a":1}' },
  { data: 'first line\nsecond line' },
  { id: '7', data: 'crlf é ✓ 😀' },
  // The last event id persists across later events, as the WHATWG spec says.
  { id: '7', data: 'no-space\ncr-only' },
  { id: '7', data: '[DONE]' },
];

test('parses events identically whatever the chunk boundaries, including split lines and UTF-8 characters', () => {
  for (const size of [...SPLITS, 2, 5, 11]) {
    assert.deepEqual(parseSse(splitEvery(STREAM, size)), EXPECTED, `split every ${size} bytes`);
  }
});

test('a CR at the very end of a chunk followed by LF in the next is one line end', () => {
  const parser = new SseParser();
  const events = [...parser.push(Buffer.from('data: x\r')), ...parser.push(Buffer.from('\n\r')), ...parser.push(Buffer.from('\ndata: y\n\n'))];
  assert.deepEqual(events, [{ data: 'x' }, { data: 'y' }]);
});

test('end() flushes a last event that had no blank line after it', () => {
  const parser = new SseParser();
  assert.deepEqual(parser.push('data: tail'), []);
  assert.deepEqual(parser.end(), [{ data: 'tail' }]);
});

test('comment-only input and blank lines produce no events', () => {
  assert.deepEqual(parseSse([Buffer.from(': ping\n\n\n: another\n\n')]), []);
});

test('formatSseEvent frames data with and without an event name', () => {
  assert.equal(formatSseEvent('{"x":1}'), 'data: {"x":1}\n\n');
  assert.equal(formatSseEvent('{}', 'ping'), 'event: ping\ndata: {}\n\n');
});

test('a blank line after an event with no data field dispatches nothing and resets the event type', () => {
  const parser = new SseParser();
  const events = [
    ...parser.push('event: ping\n\n'),
    ...parser.push('data: plain\n\n'),
    ...parser.push('id: 3\nevent: lonely\n\n'),
    ...parser.push('data:\n\n'),
    ...parser.push('event: named\ndata:\n\n'),
    ...parser.push('data\n\n'),
  ];
  assert.deepEqual(events, [
    { data: 'plain' },
    // `data:` with an empty value is still a data field; the id from the dropped event persists.
    { id: '3', data: '' },
    { id: '3', event: 'named', data: '' },
    { id: '3', data: '' },
  ]);
  assert.deepEqual(parseSse([Buffer.from('event: ping\n\n')]), []);
  assert.deepEqual(parseSse([Buffer.from('event: ping')]), []);
});

test('a CR at the end of a chunk still pairs with an LF after an empty or partial-UTF-8 chunk', () => {
  const parser = new SseParser();
  const euro = Buffer.from('€', 'utf8');
  const events = [
    ...parser.push(Buffer.from('data: a\r')),
    ...parser.push(Buffer.alloc(0)),
    ...parser.push(''),
    ...parser.push(Buffer.from('\ndata: b')),
    ...parser.push(euro.subarray(0, 1)), // decodes to '' for now
    ...parser.push(Buffer.concat([euro.subarray(1), Buffer.from('\r')])),
    ...parser.push(Buffer.from('\n\r\n')),
  ];
  assert.deepEqual(events, [{ data: 'a\nb€' }]);
});

test('parses one 8 MB event fed in 16 KiB chunks in linear time', () => {
  const payload = ('x'.repeat(1000) + 'é✓😀').repeat(8 * 1024); // ~8.2 MB of UTF-8, one line
  const wire = Buffer.from(`event: big\ndata: ${payload}\ndata: tail\n\n`, 'utf8');
  const chunks = splitEvery(wire, 16 * 1024); // splits UTF-8 characters at many boundaries
  const run = () => {
    const parser = new SseParser();
    const events = [];
    for (const chunk of chunks) events.push(...parser.push(chunk));
    events.push(...parser.end());
    return events;
  };
  // Best of three runs, so one GC pause or a busy CI core cannot fail the test; the old
  // quadratic parser took several seconds here, the linear one takes tens of milliseconds.
  let best = Infinity;
  for (let attempt = 0; attempt < 3; attempt++) {
    const started = performance.now();
    const events = run();
    best = Math.min(best, performance.now() - started);
    assert.equal(events.length, 1);
    assert.equal(events[0]!.event, 'big');
    assert.ok(events[0]!.data === `${payload}\ntail`, 'the 8 MB data came back intact');
  }
  assert.ok(best < 1000, `parsing took ${best.toFixed(0)} ms`);
});

test('an event larger than maxEventBytes makes push() throw SSE_EVENT_TOO_LARGE', () => {
  const isTooLarge = (err: any) => {
    assert.equal(err.code, 'SSE_EVENT_TOO_LARGE');
    assert.match(err.message, /\b100\b/);
    return true;
  };

  // One long line still arriving: the partial line counts.
  const partial = new SseParser({ maxEventBytes: 100 });
  assert.deepEqual(partial.push('data: ' + 'a'.repeat(50)), []);
  assert.throws(() => partial.push('a'.repeat(60)), isTooLarge);
  assert.throws(() => partial.push('\n\n'), isTooLarge, 'the parser stays failed');

  // Many short data lines in one chunk: the accumulated data counts.
  const lines = new SseParser({ maxEventBytes: 100 });
  assert.throws(() => lines.push('data: 0123456789\n'.repeat(20)), isTooLarge);

  // Events each under the limit are fine, however many of them there are.
  const many = new SseParser({ maxEventBytes: 100 });
  const events = many.push(`data: ${'b'.repeat(100)}\n\n`.repeat(50));
  assert.equal(events.length, 50);

  // The default limit is 16 MiB.
  const dflt = new SseParser();
  assert.deepEqual(dflt.push('data: ' + 'c'.repeat(16 * 1024 * 1024 - 10)), []);
  assert.throws(() => dflt.push('c'.repeat(20)), (err: any) => err.code === 'SSE_EVENT_TOO_LARGE' && /16777216/.test(err.message));
});

test('formatSseEvent gives every line of multi-line data its own data field, so it round-trips', () => {
  assert.equal(formatSseEvent('line1\nline2'), 'data: line1\ndata: line2\n\n');
  assert.equal(formatSseEvent('a\n\nb\n', 'multi'), 'event: multi\ndata: a\ndata: \ndata: b\ndata: \n\n');
  assert.equal(formatSseEvent(''), 'data: \n\n');
  const originals = [
    { data: 'line1\nline2' },
    { event: 'multi', data: 'a\n\nb\n' },
    { data: '' },
    { event: 'x', data: '\n' },
    { data: ' leading space\n  two spaces\n:not a comment' },
  ];
  const wire = originals.map((e) => formatSseEvent(e.data, e.event)).join('');
  for (const size of [...SPLITS, 2, 5]) {
    assert.deepEqual(parseSse(splitEvery(Buffer.from(wire, 'utf8'), size)), originals, `split every ${size} bytes`);
  }
  // CR and CRLF end lines in SSE too, so they are split on rather than sent raw.
  assert.equal(formatSseEvent('a\r\nb\rc'), 'data: a\ndata: b\ndata: c\n\n');
});
