// Reliability routing end to end, the retry side (non-streaming): which upstream failures are
// retried and which fail fast, how many upstream requests each alias's num_retries and
// retry_policy allow (counted exactly at the fake upstream), the full-jitter backoff bounds
// (read from the 'retrying' log lines and checked against the arrival times), Retry-After, and
// the dedicated context-window and content-policy fallbacks. Cooldowns are off here, so each
// failure is only retried; test/e2e/reliability-cooldowns.test.ts covers the circuit breaker.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { startFaultUpstream, type Fault, type FaultUpstream } from '../helpers/fault-upstream.ts';
import { chat, faultDeployment, logLines, metric, fastRouterYaml } from '../helpers/reliability.ts';
import { startTestGateway, type TestGateway } from '../helpers/test-gateway.ts';

const MASTER_KEY = 'sk-master-reliability-retries-01';
const INITIAL_MS = 5;
const MAX_MS = 20;

let up: FaultUpstream;
let gw: TestGateway;
let client: OpenAI;

/** One alias with one deployment on the fault upstream whose model is the alias name. */
function alias(name: string, routing = '', deployments = [faultDeployment('BASE', `dep-${name}`, name)]): string {
  return [`  ${name}:`, '    deployments:', ...deployments, ...(routing ? [`    routing: ${routing}`] : [])].join('\n');
}

before(async () => {
  up = await startFaultUpstream();
  const yaml = `${fastRouterYaml(MASTER_KEY, `backoff: { initial_ms: ${INITIAL_MS}, max_ms: ${MAX_MS} }\ndisable_cooldowns: true`)}models:
${alias('flaky')}
${alias('strict', '{ fallbacks: [strict-fb] }', [faultDeployment('BASE', 'dep-strict-a', 'strict-a'), faultDeployment('BASE', 'dep-strict-b', 'strict-b')])}
${alias('strict-fb')}
${alias('ctx-small', '{ context_window_fallbacks: [ctx-big], fallbacks: [spare] }')}
${alias('ctx-big')}
${alias('ctx-only', '{ fallbacks: [spare] }')}
${alias('policy-strict', '{ content_policy_fallbacks: [policy-lenient], fallbacks: [spare] }')}
${alias('policy-lenient')}
${alias('policy-only', '{ fallbacks: [spare] }')}
${alias('spare')}
${alias('three', '{ num_retries: 3 }')}
${alias('none', '{ num_retries: 0 }')}
${alias('classes', '{ num_retries: 5, retry_policy: { rate_limit: 3, server_error: 0, timeout: 1 } }')}
${alias('one-retry', '{ num_retries: 1 }')}
${alias('jitter', '{ num_retries: 8 }')}
${alias('throttled')}
`.replaceAll('BASE', up.baseURL);
  gw = await startTestGateway(yaml);
  client = new OpenAI({ apiKey: MASTER_KEY, baseURL: gw.baseURL, maxRetries: 0, timeout: 10_000 });
});

after(async () => {
  await gw?.shutdown();
  await up?.close();
});

const call = (model: string) => chat(gw, MASTER_KEY, model);
const retrying = (requestId: string | null) => logLines(gw, 'retrying', (l) => l.request_id === requestId);

describe('transient failures are retried', () => {
  const cases: Array<[string, Fault, string]> = [
    ['408', { kind: 'status', status: 408 }, 'timeout'],
    ['409', { kind: 'status', status: 409 }, 'server_error'],
    ['429', { kind: 'status', status: 429 }, 'rate_limit'],
    ['500', { kind: 'status', status: 500 }, 'server_error'],
    ['502', { kind: 'status', status: 502 }, 'server_error'],
    ['503', { kind: 'status', status: 503 }, 'server_error'],
    ['504', { kind: 'status', status: 504 }, 'server_error'],
    ['529', { kind: 'status', status: 529 }, 'server_error'],
    ['connection reset', { kind: 'reset' }, 'connect_error'],
  ];
  for (const [name, fault, reason] of cases) {
    test(`${name} → retried once, the client gets 200 after exactly 2 upstream requests`, async () => {
      const before = up.count('flaky');
      up.script('flaky', fault, { kind: 'ok' });
      const answer = await call('flaky');
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      assert.equal(answer.servedBy, 'flaky');
      assert.equal(up.count('flaky') - before, 2);
      assert.equal(answer.headers.get('x-gateway-attempts'), '2');
      assert.equal(answer.headers.get('x-gateway-fallback-used'), 'false');
      assert.equal(answer.headers.get('x-gateway-deployment'), 'dep-flaky');
      const lines = retrying(answer.headers.get('x-request-id'));
      assert.equal(lines.length, 1);
      assert.equal(lines[0]!.reason, reason);
      assert.equal(lines[0]!.deployment, 'dep-flaky');
      assert.equal(lines[0]!.retry, 1);
    });
  }
});

describe('permanent failures fail fast: one upstream request, no retry, no other deployment, no fallback', () => {
  const cases: Array<[number, number, string]> = [
    [400, 400, 'upstream_bad_request'],
    [401, 502, 'upstream_auth_failed'],
    [403, 502, 'upstream_auth_failed'],
    [404, 502, 'upstream_not_found'],
    [422, 400, 'upstream_bad_request'],
  ];
  for (const [upstreamStatus, status, code] of cases) {
    test(`${upstreamStatus} → ${status} ${code}`, async () => {
      const counts = () => [up.count('strict-a'), up.count('strict-b'), up.count('strict-fb')];
      const before = counts();
      up.script('strict-a', { kind: 'status', status: upstreamStatus });
      const answer = await call('strict');
      assert.equal(answer.status, status);
      assert.equal(answer.body.error.code, code);
      assert.deepEqual(counts().map((n, i) => n - before[i]!), [1, 0, 0]);
      assert.equal(answer.headers.get('x-gateway-attempts'), '1');
      assert.equal(answer.headers.get('x-gateway-fallback-used'), 'false');
      assert.equal(retrying(answer.headers.get('x-request-id')).length, 0);
      assert.equal(logLines(gw, 'falling back', (l) => l.request_id === answer.headers.get('x-request-id')).length, 0);
    });
  }
});

describe('context-window and content-policy rejections', () => {
  test('context_length_exceeded goes straight to context_window_fallbacks (not retried, not the ordinary fallbacks)', async () => {
    up.script('ctx-small', { kind: 'status', status: 400, code: 'context_length_exceeded', message: "This model's maximum context length is 8192 tokens." });
    const before = [up.count('ctx-small'), up.count('ctx-big'), up.count('spare')];
    const { data, response } = await client.chat.completions.create({ model: 'ctx-small', messages: [{ role: 'user', content: 'a long prompt' }] }).withResponse();
    assert.equal(data.choices[0]!.message.content, 'served by ctx-big');
    assert.deepEqual([up.count('ctx-small') - before[0]!, up.count('ctx-big') - before[1]!, up.count('spare') - before[2]!], [1, 1, 0]);
    assert.equal(response.headers.get('x-gateway-fallback-used'), 'true');
    assert.equal(response.headers.get('x-gateway-fallback-alias'), 'ctx-big');
    assert.equal(response.headers.get('x-gateway-attempts'), '2');
    const moves = logLines(gw, 'falling back', (l) => l.request_id === response.headers.get('x-request-id'));
    assert.deepEqual(moves.map((l) => [l.from, l.to, l.reason]), [['ctx-small', 'ctx-big', 'context_length_exceeded']]);
  });

  test('without context_window_fallbacks it fails fast with 400 context_length_exceeded (one request; ordinary fallbacks unused)', async () => {
    up.script('ctx-only', { kind: 'status', status: 400, code: 'context_length_exceeded' });
    const before = [up.count('ctx-only'), up.count('spare')];
    const err = await client.chat.completions.create({ model: 'ctx-only', messages: [{ role: 'user', content: 'a long prompt' }] }).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof OpenAI.BadRequestError, String(err));
    assert.equal(err.code, 'context_length_exceeded');
    assert.deepEqual([up.count('ctx-only') - before[0]!, up.count('spare') - before[1]!], [1, 0]);
  });

  test('content_policy_violation goes to content_policy_fallbacks', async () => {
    up.script('policy-strict', { kind: 'status', status: 400, code: 'content_policy_violation', message: 'refused' });
    const before = [up.count('policy-strict'), up.count('policy-lenient'), up.count('spare')];
    const answer = await call('policy-strict');
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(answer.servedBy, 'policy-lenient');
    assert.deepEqual([up.count('policy-strict') - before[0]!, up.count('policy-lenient') - before[1]!, up.count('spare') - before[2]!], [1, 1, 0]);
    assert.equal(answer.headers.get('x-gateway-fallback-alias'), 'policy-lenient');
  });

  test('without content_policy_fallbacks a refusal fails fast with 400 content_policy_violation', async () => {
    up.script('policy-only', { kind: 'status', status: 400, code: 'content_policy_violation' });
    const before = [up.count('policy-only'), up.count('spare')];
    const answer = await call('policy-only');
    assert.equal(answer.status, 400);
    assert.equal(answer.body.error.code, 'content_policy_violation');
    assert.deepEqual([up.count('policy-only') - before[0]!, up.count('spare') - before[1]!], [1, 0]);
  });
});

describe('how many retries', () => {
  test('router num_retries: 2 → 3 upstream requests, then the last error (502 upstream_error)', async () => {
    const before = up.count('flaky');
    up.script('flaky', ...Array<Fault>(3).fill({ kind: 'status', status: 500 }), { kind: 'ok' });
    const answer = await call('flaky');
    assert.equal(answer.status, 502);
    assert.equal(answer.body.error.code, 'upstream_error');
    assert.equal(up.count('flaky') - before, 3);
    assert.equal(answer.headers.get('x-gateway-attempts'), '3');
    assert.deepEqual(retrying(answer.headers.get('x-request-id')).map((l) => l.retry), [1, 2]);
    // The queued ok is still there: the next request succeeds at once.
    assert.equal((await call('flaky')).status, 200);
    assert.equal(up.count('flaky') - before, 4);
  });

  test('alias num_retries: 3 → 4 upstream requests; num_retries: 0 → exactly 1', async () => {
    let before = up.count('three');
    up.script('three', ...Array<Fault>(3).fill({ kind: 'status', status: 503 }), { kind: 'ok' });
    const ok = await call('three');
    assert.equal(ok.status, 200);
    assert.equal(up.count('three') - before, 4);
    assert.equal(ok.headers.get('x-gateway-attempts'), '4');

    before = up.count('three');
    up.script('three', ...Array<Fault>(4).fill({ kind: 'status', status: 503 }));
    const failed = await call('three');
    assert.equal(failed.status, 503);
    assert.equal(failed.body.error.code, 'upstream_overloaded');
    assert.equal(up.count('three') - before, 4);

    before = up.count('none');
    up.script('none', { kind: 'status', status: 429 }, { kind: 'ok' });
    const once = await call('none');
    assert.equal(once.status, 429);
    assert.equal(once.body.error.code, 'upstream_rate_limited');
    assert.equal(up.count('none') - before, 1);
    assert.equal(once.headers.get('x-gateway-attempts'), '1');
    up.reset();
  });

  test('retry_policy per class: rate_limit 3, server_error 0, timeout 1', async () => {
    let before = up.count('classes');
    up.script('classes', ...Array<Fault>(3).fill({ kind: 'status', status: 429 }), { kind: 'ok' });
    const throttled = await call('classes');
    assert.equal(throttled.status, 200);
    assert.equal(up.count('classes') - before, 4, 'three 429s retried');

    before = up.count('classes');
    up.script('classes', { kind: 'status', status: 500 }, { kind: 'ok' });
    const broken = await call('classes');
    assert.equal(broken.status, 502);
    assert.equal(up.count('classes') - before, 1, 'server_error: 0 retries, although num_retries is 5');
    up.reset(); // drops the ok that was never asked for

    before = up.count('classes');
    up.script('classes', { kind: 'status', status: 408 }, { kind: 'status', status: 408 }, { kind: 'ok' });
    const slow = await call('classes');
    assert.equal(slow.status, 504);
    assert.equal(slow.body.error.code, 'upstream_timeout');
    assert.equal(up.count('classes') - before, 2, 'timeout: 1 retry');
    up.reset();
  });

  test('num_retries counts per error class (docs/routing-and-reliability.md): num_retries: 1 gives each class one retry', async () => {
    const before = up.count('one-retry');
    up.script('one-retry', { kind: 'status', status: 500 }, { kind: 'status', status: 429 }, { kind: 'reset' }, { kind: 'status', status: 408 }, { kind: 'status', status: 502 }, { kind: 'ok' });
    const answer = await call('one-retry');
    // 500 (server_error, retry 1 of 1), 429 (rate_limit, 1 of 1), reset (connect_error, 1 of 1),
    // 408 (timeout, 1 of 1), then 502: server_error's retry is spent → that is the answer.
    assert.equal(up.count('one-retry') - before, 5);
    assert.equal(answer.status, 502);
    assert.equal(answer.body.error.code, 'upstream_error');
    assert.deepEqual(retrying(answer.headers.get('x-request-id')).map((l) => l.reason), ['server_error', 'rate_limit', 'connect_error', 'timeout']);
    assert.equal(await metric(gw, 'tollgate_retries_total', { alias: 'one-retry', reason: 'connect_error' }), 1);
    up.reset();
  });

  // An alias's own routing.num_retries is "per alias" (docs/routing-and-reliability.md, Retries):
  // the more specific setting. A router-wide retry_policy must not silently override it.
  test('an alias\'s num_retries: 0 is honoured even when the router has a retry_policy', async () => {
    const other = await startTestGateway(`
general_settings:
  master_key: ${MASTER_KEY}
router:
  num_retries: 2
  retry_policy: { server_error: 3 }
  backoff: { initial_ms: 1, max_ms: 2 }
  disable_cooldowns: true
models:
${alias('precise', '{ num_retries: 0 }').replaceAll('BASE', up.baseURL)}
`);
    try {
      up.script('precise', ...Array<Fault>(4).fill({ kind: 'status', status: 500 }));
      const answer = await chat(other, MASTER_KEY, 'precise');
      const sent = up.count('precise');
      up.reset();
      assert.equal(answer.status, 502);
      assert.equal(sent, 1, `alias routing.num_retries: 0 → 1 upstream request; the gateway sent ${sent} (router.retry_policy.server_error: 3 won)`);
    } finally {
      await other.shutdown();
    }
  });
});

describe('backoff', () => {
  test('full jitter: each wait is within [0, min(max_ms, initial_ms · 2^n)], not a constant, and really waited', async () => {
    const before = up.requests.length;
    up.script('jitter', ...Array<Fault>(8).fill({ kind: 'status', status: 500 }), { kind: 'ok' });
    const answer = await call('jitter');
    assert.equal(answer.status, 200);
    const arrivals = up.requests.slice(before).filter((r) => r.model === 'jitter').map((r) => r.at);
    assert.equal(arrivals.length, 9);
    const waits = retrying(answer.headers.get('x-request-id')).map((l) => l.wait_ms as number);
    assert.equal(waits.length, 8);
    waits.forEach((wait, n) => {
      const bound = Math.min(MAX_MS, INITIAL_MS * 2 ** n);
      assert.ok(wait >= 0 && wait <= bound, `retry ${n + 1}: waited ${wait} ms, outside [0, ${bound}]`);
      // Logged rounded to a whole ms, and libuv's timers run on a loop clock cached to the ms (a
      // timer can fire up to 1 ms before its delay by a fresh clock): allow 2 ms.
      assert.ok(arrivals[n + 1]! - arrivals[n]! >= wait - 2, `retry ${n + 1} arrived ${arrivals[n + 1]! - arrivals[n]!} ms after the previous attempt, less than its wait ${wait} ms`);
    });
    // Full jitter, not a fixed delay: at least one wait falls below its ceiling (P(all at the ceiling) < 1e-10).
    assert.ok(waits.some((wait, n) => wait < Math.min(MAX_MS, INITIAL_MS * 2 ** n)), `waits ${waits.join(', ')} all sit at their ceilings`);
  });

  test('a 429 with Retry-After: 1 on a one-deployment alias: the retry waits at least ~1 s, then the client gets 200', async () => {
    const before = up.requests.length;
    up.script('throttled', { kind: 'status', status: 429, retryAfter: '1' }, { kind: 'ok' });
    const answer = await call('throttled');
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    const arrivals = up.requests.slice(before).filter((r) => r.model === 'throttled').map((r) => r.at);
    assert.equal(arrivals.length, 2);
    assert.ok(arrivals[1]! - arrivals[0]! >= 950, `the retry came ${Math.round(arrivals[1]! - arrivals[0]!)} ms after the 429`);
    const [line] = retrying(answer.headers.get('x-request-id'));
    assert.equal(line?.reason, 'rate_limit');
    assert.equal(line?.code, 'upstream_rate_limited');
    assert.ok(line!.wait_ms >= 1000);
  });
});
