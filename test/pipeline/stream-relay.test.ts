import assert from 'node:assert/strict';
import { test } from 'node:test';
import { completeEventsEnd } from '../../src/pipeline/stream-relay.ts';

test('completeEventsEnd finds the end of the last whole event for LF, CR and CRLF framing', () => {
  const b = (s: string) => Buffer.from(s, 'utf8');
  assert.equal(completeEventsEnd(b('event: a\ndata: {}\n\nevent: b\ndata: {"x":')), 19);
  assert.equal(completeEventsEnd(b('data: 1\n\ndata: 2\n\n')), 18);
  assert.equal(completeEventsEnd(b('data: 1\r\n\r\ndata: 2')), 11);
  assert.equal(completeEventsEnd(b('data: 1\r\rdata')), 9);
  assert.equal(completeEventsEnd(b('data: half an ev')), 0);
  assert.equal(completeEventsEnd(b('data: x\n')), 0);
  assert.equal(completeEventsEnd(b('')), 0);
});
