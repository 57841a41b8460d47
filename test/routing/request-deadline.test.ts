// The request's time budget: the alias's timeout, or the client's x-gateway-timeout-ms
// (capped at router.max_timeout_ms, strict), and a clear 400 for a header that is no number.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../src/config/load-config.ts';
import { GatewayError } from '../../src/errors/gateway-error.ts';
import { requestDeadline, TIMEOUT_HEADER } from '../../src/routing/request-deadline.ts';

const config = parseConfig(`
router:
  request_timeout_ms: 40000
  max_timeout_ms: 120000
models:
  chat:
    routing: { timeout_ms: 30000 }
    deployments: [{ provider: simulator, model: sim-1 }]
  plain:
    deployments: [{ provider: simulator, model: sim-1 }]
`, 'deadline.yaml', { env: {} });
const chat = config.aliases.get('chat')!;
const AT = 5_000.5; // performance.now() of arrival

function deadline(header: string | undefined, alias = chat) {
  return requestDeadline(config, alias, AT, header);
}

test('the header is x-gateway-timeout-ms', () => {
  assert.equal(TIMEOUT_HEADER, 'x-gateway-timeout-ms');
});

test('no header: the alias\'s timeout, not strict', () => {
  assert.deepEqual(deadline(undefined), { deadline: AT + 30_000, strict: false });
  assert.deepEqual(deadline(undefined, config.aliases.get('plain')!), { deadline: AT + 40_000, strict: false });
});

test('a header asking for less: that many ms, strict', () => {
  assert.deepEqual(deadline('2500'), { deadline: AT + 2_500, strict: true });
  assert.deepEqual(deadline('1'), { deadline: AT + 1, strict: true });
});

test('surrounding whitespace is allowed', () => {
  assert.deepEqual(deadline('  750\t'), { deadline: AT + 750, strict: true });
});

test('a header above router.max_timeout_ms is capped to it', () => {
  assert.deepEqual(deadline('120001'), { deadline: AT + 120_000, strict: true });
  assert.deepEqual(deadline('9999999999'), { deadline: AT + 120_000, strict: true });
  assert.deepEqual(deadline('99999999999'), { deadline: AT + 120_000, strict: true }, 'huge values are capped, not refused');
});

test('a header between the alias timeout and the cap is honoured (the cap is max_timeout_ms)', () => {
  assert.deepEqual(deadline('90000'), { deadline: AT + 90_000, strict: true });
});

for (const bad of ['', '   ', '0', '000', '-5', '+5', '1.5', '1e3', '0x10', 'abc', '10ms', '12 34', '99999999999999999', 'Infinity']) {
  test(`${JSON.stringify(bad)} is a 400 invalid_request naming the header`, () => {
    assert.throws(() => deadline(bad), (err: unknown) => {
      assert.ok(err instanceof GatewayError);
      assert.equal(err.code, 'invalid_request');
      assert.equal(err.status, 400);
      assert.equal(err.param, 'x-gateway-timeout-ms');
      assert.match(err.message, /^x-gateway-timeout-ms: must be a positive whole number of milliseconds, got ".*"\.$/);
      return true;
    });
  });
}

test('the error quotes at most 32 characters of the bad value', () => {
  const long = 'x'.repeat(500);
  assert.throws(() => deadline(long), (err: GatewayError) => err.message.includes(`"${'x'.repeat(32)}"`) && !err.message.includes('x'.repeat(33)));
});
