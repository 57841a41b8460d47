// The structured logger: JSON lines, levels, batching, and redaction of secrets and PII.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLogger } from '../../src/logging/logger.ts';

function capture(level: 'debug' | 'info' | 'warn' | 'error' = 'info') {
  const out: string[] = [];
  const logger = createLogger({ level, write: (text) => out.push(text), flushMs: 5 });
  const lines = () => {
    logger.flush();
    return out.join('').split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);
  };
  return { logger, lines };
}

test('one JSON object per line with time, level, msg and the fields; levels below the configured one are skipped', () => {
  const { logger, lines } = capture('info');
  logger.debug('not shown');
  logger.info('request', { request_id: 'r-1', status: 200, duration_ms: 1.25, client_aborted: false, tags: ['a', 'b'] });
  logger.warn('careful');
  const [first, second, ...rest] = lines();
  assert.equal(rest.length, 0);
  assert.equal(first.level, 'info');
  assert.equal(first.msg, 'request');
  assert.match(String(first.time), /^\d{4}-\d\d-\d\dT/);
  assert.deepEqual({ ...first, time: undefined }, { time: undefined, level: 'info', msg: 'request', request_id: 'r-1', status: 200, duration_ms: 1.25, client_aborted: false, tags: ['a', 'b'] });
  assert.equal(second.level, 'warn');
  assert.equal(logger.enabled('debug'), false);
  assert.equal(logger.enabled('error'), true);
});

test('secrets and PII in any field are redacted before the line is written; the caller\'s object is not changed', () => {
  const { logger, lines } = capture();
  const fields = {
    error: 'upstream said: invalid key sk-proj-abcdefghijklmnopqrstuvwxyz0123456789 for jane.doe@example.com',
    tenant_id: 'bob@example.org',
    detail: { header: 'Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlc2lnbmF0dXJl', phones: ['+44 20 7946 0958'] },
    count: 3,
  };
  logger.error('upstream failed', fields);
  const text = JSON.stringify(lines());
  for (const secret of ['sk-proj-abcdefghijklmnopqrstuvwxyz0123456789', 'jane.doe@example.com', 'bob@example.org', 'eyJhbGciOiJIUzI1NiJ9', '7946 0958']) {
    assert.ok(!text.includes(secret), `${secret} must not be written`);
  }
  assert.match(text, /\[SECRET\]/);
  assert.match(text, /\[EMAIL\]/);
  assert.match(text, /\[PHONE\]/);
  assert.equal(fields.tenant_id, 'bob@example.org', 'the caller keeps its own values');
});

test('a full buffer drops lines and says how many; a throwing writer never throws into the caller', () => {
  const out: string[] = [];
  const logger = createLogger({ level: 'info', write: (text) => out.push(text), maxBufferedLines: 2 });
  for (let i = 0; i < 5; i++) logger.info('line', { i });
  logger.flush();
  const lines = out.join('').split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);
  assert.equal(lines.filter((l) => l.msg === 'line').length, 2);
  assert.equal(lines.find((l) => l.dropped !== undefined)?.dropped, 3);
  const broken = createLogger({ level: 'info', write: () => { throw new Error('disk full'); } });
  broken.info('x');
  assert.doesNotThrow(() => broken.flush());
});
