import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as wholeEvents from '../../src/pipeline/whole-events.ts';
import { completeEventsEnd } from '../../src/pipeline/whole-events.ts';

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

test('WholeEvents forwards only complete events, whatever the chunking, and keeps bytes intact', () => {
  const { WholeEvents } = wholeEvents;
  const stream = Buffer.from('event: a\ndata: {"x":"é"}\n\nevent: b\r\ndata: 2\r\n\r\ndata: 3\n\ndata: tail');
  for (const size of [1, 2, 3, 5, 7, 1000]) {
    const whole = new WholeEvents();
    const out: Buffer[] = [];
    for (let i = 0; i < stream.length; i += size) {
      const events = whole.push(stream.subarray(i, i + size));
      if (events.length > 0) {
        assert.ok(completeEventsEnd(events) === events.length, `split ${size}: forwarded bytes end on a boundary`);
        out.push(events);
      }
    }
    assert.equal(Buffer.concat(out).toString(), 'event: a\ndata: {"x":"é"}\n\nevent: b\r\ndata: 2\r\n\r\ndata: 3\n\n', `split ${size}`);
    assert.equal(whole.rest().toString(), 'data: tail');
  }
});

test('WholeEvents refuses an event that grows past its limit', () => {
  const { WholeEvents } = wholeEvents;
  const whole = new WholeEvents(12);
  whole.push(Buffer.from('data: 12345'));
  assert.throws(() => whole.push(Buffer.from('67890')), { code: 'SSE_EVENT_TOO_LARGE' });
});
