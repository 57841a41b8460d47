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
