import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { ERROR_CODES } from '../../src/errors/codes.ts';
import { GatewayError } from '../../src/errors/gateway-error.ts';
import { toAnthropicErrorBody, toGatewayError, toOpenAIErrorBody } from '../../src/errors/to-response.ts';

const DOC = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');

test('every registered code is documented in docs/errors.md with its status', () => {
  for (const [code, spec] of Object.entries(ERROR_CODES)) {
    const row = DOC.split('\n').find((line) => line.startsWith(`| \`${code}\` |`));
    assert.ok(row, `docs/errors.md has no row for ${code}`);
    assert.match(row!, new RegExp(`^\\| \`${code}\` \\| ${spec.status} \\| ${spec.type} \\|`), `row for ${code} has the wrong status or type`);
  }
});

test('docs/errors.md documents no code that does not exist', () => {
  const documented = [...DOC.matchAll(/^\| `([a-z_]+)` \|/gm)].map((m) => m[1]!);
  assert.deepEqual(documented.filter((code) => !(code in ERROR_CODES)), []);
  assert.equal(documented.length, Object.keys(ERROR_CODES).length);
});

test('codes use only 4xx/5xx statuses and only internal_error is a 500', () => {
  for (const [code, spec] of Object.entries(ERROR_CODES)) {
    assert.ok(spec.status >= 400 && spec.status < 600, code);
    assert.equal(spec.status === 500, code === 'internal_error', code);
  }
});

test('envelopes: OpenAI shape and Anthropic shape', () => {
  const err = new GatewayError('model_not_found', 'no such model', { param: 'model' });
  assert.deepEqual(toOpenAIErrorBody(err), { error: { message: 'no such model', type: 'not_found_error', code: 'model_not_found', param: 'model' } });
  assert.deepEqual(toAnthropicErrorBody(err), { type: 'error', error: { type: 'not_found_error', message: 'no such model [model_not_found]' } });
  assert.equal(toAnthropicErrorBody(new GatewayError('upstream_overloaded', 'x')).error.type, 'overloaded_error');
});

test('anything that is not a GatewayError becomes internal_error naming the request id', () => {
  const err = toGatewayError(new TypeError('oops'), 'req-42');
  assert.equal(err.code, 'internal_error');
  assert.equal(err.status, 500);
  assert.match(err.message, /req-42/);
  assert.doesNotMatch(err.message, /oops/);
});
