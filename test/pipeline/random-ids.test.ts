// Ids the gateway makes: time-ordered UUIDs (version 7) for request and ledger event ids.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { timeOrderedUuid } from '../../src/pipeline/random-ids.ts';

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

test('timeOrderedUuid is an RFC 9562 version 7 UUID whose first 48 bits are the Unix milliseconds', () => {
  const ms = Date.UTC(2026, 11, 2, 9, 30, 0, 123);
  const id = timeOrderedUuid(ms);
  assert.match(id, UUID_V7);
  assert.equal(parseInt(id.slice(0, 8) + id.slice(9, 13), 16), ms);
  assert.match(timeOrderedUuid(), UUID_V7);
});

test('timeOrderedUuid: ids of later milliseconds sort after earlier ones; ids are unique', () => {
  const base = Date.UTC(2026, 0, 1);
  const ids = Array.from({ length: 2000 }, (_, i) => timeOrderedUuid(base + Math.floor(i / 4)));
  for (let i = 4; i < ids.length; i += 4) assert.ok(ids[i - 1] < ids[i], `${ids[i - 1]} < ${ids[i]}`);
  assert.equal(new Set(ids).size, ids.length);
  const variants = new Set(ids.map((id) => id[19]));
  assert.deepEqual([...variants].sort(), ['8', '9', 'a', 'b'], 'the variant bits are 10, the next two random');
});
