import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { anthropicErrorCode, mapAnthropicError, streamErrorFailure } from '../../../src/providers/anthropic/anthropic-errors.ts';
import { anthropicAdapter } from '../../../src/providers/anthropic/anthropic-adapter.ts';
import { fixturePath } from '../../helpers/fixtures.ts';

const body = (name: string): string => readFileSync(fixturePath(`anthropic/${name}`), 'utf8');

test('each Anthropic error status and type maps to a gateway code with the provider message', () => {
  const cases: Array<[number, string, string, string]> = [
    [400, 'error-invalid-request.json', 'upstream_bad_request', 'messages.1.content.0.tool_result: unexpected `tool_use_id`'],
    [400, 'error-prompt-too-long.json', 'context_length_exceeded', 'prompt is too long: 208310 tokens > 200000 maximum'],
    [400, 'error-context-limit.json', 'context_length_exceeded', 'input length and `max_tokens` exceed context limit'],
    [401, 'error-authentication.json', 'upstream_auth_failed', 'invalid x-api-key'],
    [402, 'error-billing.json', 'upstream_auth_failed', 'Your credit balance is too low'],
    [403, 'error-permission.json', 'upstream_auth_failed', 'Your API key does not have permission'],
    [404, 'error-not-found.json', 'upstream_not_found', 'model: claude-sonnet-9'],
    [413, 'error-request-too-large.json', 'upstream_bad_request', 'Request exceeds the maximum allowed number of bytes.'],
    [429, 'error-rate-limit.json', 'upstream_rate_limited', 'This request would exceed the rate limit'],
    [500, 'error-api.json', 'upstream_error', 'Internal server error'],
    [529, 'error-overloaded.json', 'upstream_overloaded', 'Overloaded'],
  ];
  for (const [status, file, code, message] of cases) {
    const result = anthropicAdapter.mapError(status, body(file), {});
    assert.equal(result.code, code, file);
    assert.ok(result.message.startsWith(message), `${file}: ${result.message}`);
    assert.equal(result.retryAfterSeconds, undefined);
  }
});

test('429 and 529 carry retry-after seconds', () => {
  assert.deepEqual(mapAnthropicError(429, body('error-rate-limit.json'), { 'retry-after': '17' }), {
    code: 'upstream_rate_limited',
    message: JSON.parse(body('error-rate-limit.json')).error.message,
    class: 'rate_limit',
    retryAfterSeconds: 17,
  });
  assert.deepEqual(mapAnthropicError(529, body('error-overloaded.json'), { 'retry-after': ['3'] }), {
    code: 'upstream_overloaded', message: 'Overloaded', class: 'server_error', retryAfterSeconds: 3,
  });
  // Only throttling errors carry a delay.
  assert.equal(mapAnthropicError(500, body('error-api.json'), { 'retry-after': '5' }).retryAfterSeconds, undefined);
});

test('bodies that are not Anthropic errors fall back to the status', () => {
  assert.deepEqual(mapAnthropicError(502, '<html>Bad Gateway</html>', {}), { code: 'upstream_error', message: '<html>Bad Gateway</html>', class: 'server_error' });
  assert.deepEqual(mapAnthropicError(529, '', {}), { code: 'upstream_overloaded', message: 'no error body', class: 'server_error' });
  assert.equal(mapAnthropicError(504, '{"message":"timeout"}', {}).code, 'upstream_error');
  assert.equal(mapAnthropicError(408, 'slow', {}).code, 'upstream_timeout');
  assert.equal(mapAnthropicError(400, 'prompt is too long: 300000 tokens > 200000 maximum', {}).code, 'context_length_exceeded');
  assert.equal(mapAnthropicError(503, '{"type":"error","error":{"type":"some_new_error","message":"x"}}', {}).code, 'upstream_overloaded');
});

test('error types alone (as in stream events) map without a status', () => {
  assert.equal(anthropicErrorCode('overloaded_error', 'Overloaded'), 'upstream_overloaded');
  assert.equal(anthropicErrorCode('rate_limit_error', 'slow down'), 'upstream_rate_limited');
  assert.equal(anthropicErrorCode('api_error', 'boom'), 'upstream_error');
  assert.equal(anthropicErrorCode('timeout_error', 'late'), 'upstream_timeout');
  assert.equal(anthropicErrorCode('invalid_request_error', 'Output blocked by content filtering policy'), 'content_policy_violation');
  assert.equal(anthropicErrorCode(undefined, 'x'), 'upstream_error');
  assert.deepEqual(streamErrorFailure({ type: 'error', error: { details: null, type: 'overloaded_error', message: 'Overloaded' } }), {
    code: 'upstream_overloaded', message: 'Overloaded', class: 'server_error',
  });
  assert.deepEqual(streamErrorFailure({ type: 'error' }), { code: 'upstream_error', message: 'provider stream error', class: 'server_error' });
});
