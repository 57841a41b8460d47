// The cost ledger end to end, exact totals: a fixed mixed workload through the official SDKs
// (OpenAI-compatible chat with cached tokens, streamed and not, an Anthropic deployment through
// /v1/messages, embeddings, a fallback, one 429 from a key's rpm limit, one upstream 500) on
// priced deployments; then GET /admin/spend must equal, to the pico-dollar, the sum of the
// upstream-reported usages × the configured per-token prices, computed here independently.
// One event per request, with its status, usage, attempts and fallback chain.
// Other ledger suites: ledger-attribution.test.ts (client gone, auth failures, prompt logging),
// ledger-durability.test.ts (SIGTERM flush, PostgreSQL outage and replay).

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { adminRequest } from '../helpers/admin-request.ts';
import { FAKE_AN_USAGE, startFakeAnthropicUpstream, type FakeAnthropicUpstream } from '../helpers/fake-anthropic-upstream.ts';
import { FAKE_USAGE, startFakeOpenAIUpstream, type FakeOpenAIUpstream } from '../helpers/fake-openai-upstream.ts';
import { startTestGateway, type TestGateway } from '../helpers/test-gateway.ts';
import { picoPerToken, usdOfPico, waitForEvents } from './ledger-helpers.ts';

const MASTER_KEY = 'sk-master-ledger-e2e-0001';
const UPSTREAM_KEY = 'sk-upstream-ledger-e2e-0001';
const ANTHROPIC_KEY = 'anthropic-upstream-ledger-e2e-0001';

// Per-token prices in dollars (realistic: small-model list prices, per token).
const OK_PRICE = { input: 0.000000075, output: 0.0000003, cacheRead: 0.00000001875 } as const;
const AN_PRICE = { input: 0.0000008, output: 0.000004, cacheRead: 0.00000008, cacheWrite: 0.000001 } as const;
/** $0.01875 per million tokens: an odd token count costs a number with 11 decimals. */
const EMB_PRICE = { input: 0.00000001875 } as const;

let upstream: FakeOpenAIUpstream;
let anthropicUpstream: FakeAnthropicUpstream;
let gw: TestGateway;

before(async () => {
  upstream = await startFakeOpenAIUpstream();
  anthropicUpstream = await startFakeAnthropicUpstream({ apiKey: ANTHROPIC_KEY });
  gw = await startTestGateway(`
router: { num_retries: 0, disable_cooldowns: true }
general_settings:
  master_key: ${MASTER_KEY}
teams:
  ledger-team: {}
models:
  up-ok:
    deployments:
      - id: fake-ok
        provider: openai_compatible
        model: ok
        api_base: ${upstream.baseURL}
        api_key: ${UPSTREAM_KEY}
        input_cost_per_token: ${OK_PRICE.input}
        output_cost_per_token: ${OK_PRICE.output}
        cache_read_input_token_cost: ${OK_PRICE.cacheRead}
  up-server-error:
    deployments:
      - id: fake-server-error
        provider: openai_compatible
        model: server-error
        api_base: ${upstream.baseURL}
        api_key: ${UPSTREAM_KEY}
        input_cost_per_token: ${OK_PRICE.input}
        output_cost_per_token: ${OK_PRICE.output}
  flaky:
    deployments:
      - id: flaky-1
        provider: openai_compatible
        model: server-error
        api_base: ${upstream.baseURL}
        api_key: ${UPSTREAM_KEY}
        input_cost_per_token: ${OK_PRICE.input}
        output_cost_per_token: ${OK_PRICE.output}
    routing: { fallbacks: [up-ok] }
  emb:
    deployments:
      - id: fake-emb
        provider: openai_compatible
        model: ok
        api_base: ${upstream.baseURL}
        api_key: ${UPSTREAM_KEY}
        input_cost_per_token: ${EMB_PRICE.input}
        output_cost_per_token: 0
  claude:
    deployments:
      - id: fake-an-text
        provider: anthropic
        model: text
        api_base: ${anthropicUpstream.url}
        api_key: ${ANTHROPIC_KEY}
        input_cost_per_token: ${AN_PRICE.input}
        output_cost_per_token: ${AN_PRICE.output}
        cache_read_input_token_cost: ${AN_PRICE.cacheRead}
        cache_creation_input_token_cost: ${AN_PRICE.cacheWrite}
`);
});

after(async () => {
  await gw?.shutdown();
  await upstream?.close();
  await anthropicUpstream?.close();
});

const admin = (method: string, path: string, body?: unknown) => adminRequest(gw.url, MASTER_KEY, method, path, body);
const hi = [{ role: 'user' as const, content: 'hi' }];

/** What the test expects of each request, computed from the fakes' usages and the prices above. */
interface Expected {
  readonly status: string;
  readonly endpoint: string;
  readonly stream: boolean;
  readonly usage: { input: number; output: number; cached_input: number; cache_write: number; reasoning: number; total: number; estimated: boolean };
  readonly costPico: number;
  readonly attempts: number;
  readonly chainLength: number;
  readonly fallbackUsed: boolean;
  /** The x-gateway-cost-usd header, for non-streamed answers that carried one. */
  header?: string | null;
}

const NO_USAGE = { input: 0, output: 0, cached_input: 0, cache_write: 0, reasoning: 0, total: 0, estimated: false };

function okChatUsage() {
  const u = FAKE_USAGE;
  const cached = u.prompt_tokens_details.cached_tokens;
  return {
    usage: { input: u.prompt_tokens, output: u.completion_tokens, cached_input: cached, cache_write: 0, reasoning: 0, total: u.total_tokens, estimated: false },
    costPico: (u.prompt_tokens - cached) * picoPerToken(OK_PRICE.input) + cached * picoPerToken(OK_PRICE.cacheRead) + u.completion_tokens * picoPerToken(OK_PRICE.output),
  };
}

function anthropicUsage() {
  const u = FAKE_AN_USAGE;
  const input = u.input_tokens + u.cache_creation_input_tokens + u.cache_read_input_tokens;
  return {
    usage: { input, output: u.output_tokens, cached_input: u.cache_read_input_tokens, cache_write: u.cache_creation_input_tokens, reasoning: 0, total: input + u.output_tokens, estimated: false },
    costPico: u.input_tokens * picoPerToken(AN_PRICE.input) + u.cache_read_input_tokens * picoPerToken(AN_PRICE.cacheRead)
      + u.cache_creation_input_tokens * picoPerToken(AN_PRICE.cacheWrite) + u.output_tokens * picoPerToken(AN_PRICE.output),
  };
}

test('a mixed workload: GET /admin/spend equals Σ upstream usage × configured prices, exactly; one event per request with status, usage and attempts', async () => {
  const created = await admin('POST', '/admin/keys', { team_id: 'ledger-team', rpm_limit: 1 });
  assert.equal(created.status, 201, JSON.stringify(created.json));
  const limitedKey: string = created.json.key;

  const oa = (key = MASTER_KEY) => new OpenAI({ baseURL: gw.baseURL, apiKey: key, maxRetries: 0, timeout: 10_000 });
  const an = new Anthropic({ baseURL: gw.url, apiKey: MASTER_KEY, maxRetries: 0, timeout: 10_000 });
  const expected = new Map<string, Expected>();
  const rid = (name: string) => ({ headers: { 'X-Request-Id': `ledger-t1-${name}` } });

  // 1-2. Non-streamed chat (cached tokens in the usage), twice.
  for (const n of [1, 2]) {
    const { response } = await oa().chat.completions.create({ model: 'up-ok', messages: hi }, rid(`chat-${n}`)).withResponse();
    expected.set(`ledger-t1-chat-${n}`, { status: 'success', endpoint: 'chat.completions', stream: false, ...okChatUsage(), attempts: 1, chainLength: 1, fallbackUsed: false, header: response.headers.get('x-gateway-cost-usd') });
  }
  // 3. Streamed chat; the client does not ask for usage, the gateway does.
  {
    const stream = await oa().chat.completions.create({ model: 'up-ok', messages: hi, stream: true }, rid('stream'));
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    assert.equal(text, 'Hello from the fake upstream.');
    expected.set('ledger-t1-stream', { status: 'success', endpoint: 'chat.completions', stream: true, ...okChatUsage(), attempts: 1, chainLength: 1, fallbackUsed: false });
  }
  // 4. Anthropic via /v1/messages, non-streamed; 5. streamed.
  {
    const { data, response } = await an.messages.create({ model: 'claude', max_tokens: 64, messages: hi }, rid('messages')).withResponse();
    assert.equal(data.usage.cache_read_input_tokens, FAKE_AN_USAGE.cache_read_input_tokens);
    expected.set('ledger-t1-messages', { status: 'success', endpoint: 'messages', stream: false, ...anthropicUsage(), attempts: 1, chainLength: 1, fallbackUsed: false, header: response.headers.get('x-gateway-cost-usd') });
    const stream = await an.messages.create({ model: 'claude', max_tokens: 64, messages: hi, stream: true }, rid('messages-stream'));
    for await (const _event of stream) { /* drain */ }
    expected.set('ledger-t1-messages-stream', { status: 'success', endpoint: 'messages', stream: true, ...anthropicUsage(), attempts: 1, chainLength: 1, fallbackUsed: false });
  }
  // 6. Embeddings: the fake counts one token per word (5 here).
  {
    const { data, response } = await oa().embeddings.create({ model: 'emb', input: 'the quick brown fox jumps' }, rid('embeddings')).withResponse();
    assert.equal(data.usage.prompt_tokens, 5);
    expected.set('ledger-t1-embeddings', {
      status: 'success', endpoint: 'embeddings', stream: false,
      usage: { input: 5, output: 0, cached_input: 0, cache_write: 0, reasoning: 0, total: 5, estimated: false },
      costPico: 5 * picoPerToken(EMB_PRICE.input), attempts: 1, chainLength: 1, fallbackUsed: false, header: response.headers.get('x-gateway-cost-usd'),
    });
  }
  // 7. A fallback: flaky's only deployment answers 500, up-ok serves.
  {
    const { response } = await oa().chat.completions.create({ model: 'flaky', messages: hi }, rid('fallback')).withResponse();
    expected.set('ledger-t1-fallback', { status: 'success', endpoint: 'chat.completions', stream: false, ...okChatUsage(), attempts: 2, chainLength: 2, fallbackUsed: true, header: response.headers.get('x-gateway-cost-usd') });
  }
  // 8-9. A key with rpm_limit 1: the first call is served, the second refused with 429.
  {
    await oa(limitedKey).chat.completions.create({ model: 'up-ok', messages: hi }, rid('rpm-1'));
    expected.set('ledger-t1-rpm-1', { status: 'success', endpoint: 'chat.completions', stream: false, ...okChatUsage(), attempts: 1, chainLength: 1, fallbackUsed: false });
    const refused = await oa(limitedKey).chat.completions.create({ model: 'up-ok', messages: hi }, rid('rpm-2')).then(() => undefined, (e: unknown) => e);
    assert.ok(refused instanceof OpenAI.APIError, String(refused));
    assert.equal(refused.status, 429);
    expected.set('ledger-t1-rpm-2', { status: 'rate_limited', endpoint: 'chat.completions', stream: false, usage: NO_USAGE, costPico: 0, attempts: 0, chainLength: 0, fallbackUsed: false });
  }
  // 10. An upstream 500 with nowhere to fall back.
  {
    const failed = await oa().chat.completions.create({ model: 'up-server-error', messages: hi }, rid('upstream-500')).then(() => undefined, (e: unknown) => e);
    assert.ok(failed instanceof OpenAI.APIError, String(failed));
    assert.ok(failed.status! >= 500, `status ${failed.status}`);
    expected.set('ledger-t1-upstream-500', { status: 'upstream_error', endpoint: 'chat.completions', stream: false, usage: NO_USAGE, costPico: 0, attempts: 1, chainLength: 1, fallbackUsed: false });
  }

  const events = await waitForEvents(gw.url, MASTER_KEY, expected.size);
  await new Promise((resolve) => setTimeout(resolve, 300)); // no late duplicates either
  const settled = await waitForEvents(gw.url, MASTER_KEY, expected.size);
  assert.equal(settled.length, events.length);

  // One event per request, and no other.
  const ids = settled.map((e) => e.request_id).sort();
  assert.deepEqual(ids, [...expected.keys()].sort(), 'one ledger event per request');
  assert.equal(new Set(settled.map((e) => e.event_id)).size, settled.length, 'distinct event ids');

  const problems: string[] = [];
  for (const event of settled) {
    const want = expected.get(event.request_id)!;
    const where = event.request_id;
    assert.equal(event.outcome.status, want.status, `${where} status`);
    assert.equal(event.endpoint, want.endpoint, `${where} endpoint`);
    assert.equal(event.stream, want.stream, `${where} stream`);
    assert.deepEqual(event.usage, want.usage, `${where} usage`);
    assert.equal(Math.round(event.cost_usd.total * 1e12), want.costPico, `${where} cost_usd.total (pico)`);
    assert.equal(event.cost_usd.total, usdOfPico(want.costPico), `${where} cost_usd.total`);
    assert.equal(event.outcome.attempts, want.attempts, `${where} attempts (${JSON.stringify(event.outcome.fallback_chain)})`);
    assert.equal(event.outcome.fallback_chain.length, want.chainLength, `${where} fallback_chain ${JSON.stringify(event.outcome.fallback_chain)}`);
    assert.equal(event.outcome.fallback_used, want.fallbackUsed, `${where} fallback_used`);
    if (want.status === 'success') assert.equal(event.cost_usd.price_missing, false, `${where} price_missing`);
    // x-gateway-cost-usd is the ledger's cost for the call (non-streamed answers).
    if (want.header !== undefined) {
      if (want.header === null) problems.push(`${where}: no x-gateway-cost-usd header`);
      else if (Number(want.header) !== event.cost_usd.total) problems.push(`${where}: x-gateway-cost-usd ${want.header} but the ledger event says ${event.cost_usd.total}`);
    }
  }

  // Details that say which deployment, which limit and which failure.
  const byId = new Map(settled.map((e) => [e.request_id, e]));
  const fallback = byId.get('ledger-t1-fallback');
  assert.equal(fallback.model_alias, 'flaky');
  assert.equal(fallback.deployment_id, 'fake-ok');
  assert.match(fallback.outcome.fallback_chain[0], /^flaky\/flaky-1:/);
  assert.match(fallback.outcome.fallback_chain[1], /^up-ok\/fake-ok:ok/);
  const limited = byId.get('ledger-t1-rpm-2');
  assert.equal(limited.key_id, created.json.key_id);
  assert.equal(limited.outcome.http_status, 429);
  assert.equal(limited.outcome.rate_limit_tier, 'requests_per_minute:key'); // docs/ledger.md: type:scope
  const failed = byId.get('ledger-t1-upstream-500');
  assert.equal(failed.deployment_id, 'fake-server-error');
  assert.match(failed.outcome.fallback_chain[0], /^up-server-error\/fake-server-error:/);
  assert.ok(failed.outcome.http_status >= 500);
  assert.equal(byId.get('ledger-t1-messages').provider, 'anthropic');
  assert.ok(byId.get('ledger-t1-stream').latency_ms.ttft !== null, 'a stream records its time to first token');

  // The spend report: totals exactly equal to the independent computation.
  const wanted = [...expected.values()];
  const sum = (f: (e: Expected) => number) => wanted.reduce((n, e) => n + f(e), 0);
  const spend = await admin('GET', '/admin/spend');
  assert.equal(spend.status, 200, JSON.stringify(spend.json));
  const totals = spend.json.totals;
  assert.equal(totals.requests, expected.size);
  assert.equal(totals.errors, wanted.filter((e) => e.status !== 'success').length);
  assert.equal(totals.input_tokens, sum((e) => e.usage.input));
  assert.equal(totals.output_tokens, sum((e) => e.usage.output));
  assert.equal(totals.cached_input_tokens, sum((e) => e.usage.cached_input));
  assert.equal(totals.total_tokens, sum((e) => e.usage.total));
  assert.equal(totals.cost_usd, usdOfPico(sum((e) => e.costPico)), `spend total ${totals.cost_usd} vs Σ usage × price ${usdOfPico(sum((e) => e.costPico))}`);

  // Grouped by deployment: each group is that deployment's share.
  const grouped = await admin('GET', '/admin/spend?group_by=deployment');
  assert.equal(grouped.status, 200, JSON.stringify(grouped.json));
  const claude = grouped.json.data.find((row: any) => row.deployment === 'fake-an-text');
  assert.equal(claude.requests, 2);
  assert.equal(claude.cost_usd, usdOfPico(2 * anthropicUsage().costPico));
  assert.deepEqual(grouped.json.totals, totals);

  // Last: the header check (kept apart so every other check above has run).
  assert.deepEqual(problems, [], 'x-gateway-cost-usd equals the ledger event\'s cost_usd.total');
});
