// The response cache end to end on one gateway (in-memory stores, the local embedder), through
// the official OpenAI client: misses go upstream and are stored; hits are served without an
// upstream call, streamed hits replay as a stream the SDK parses; the request controls, the
// skip rules, namespaces (tenant, version), invalidation, TTL on an injected clock, the ledger
// row of a hit, and hits that do not spend a key's rate limit.
// Replicas sharing the cache through Redis: response-cache-replicas.test.ts.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import OpenAI from 'openai';
import { adminRequest } from '../helpers/admin-request.ts';
import { FAKE_TEXT, FAKE_USAGE, startFakeOpenAIUpstream, type FakeOpenAIUpstream } from '../helpers/fake-openai-upstream.ts';
import { startTestGateway, type TestGateway } from '../helpers/test-gateway.ts';
import { allEvents, eventually } from './ledger-helpers.ts';

const MASTER_KEY = 'sk-master-cache-e2e-0001';
const UPSTREAM_KEY = 'sk-upstream-cache-e2e-0001';
const PRICE = { input: 0.000001, output: 0.000002 };

let upstream: FakeOpenAIUpstream;
let gw: TestGateway;
let clock = Date.parse('2026-12-02T10:00:00Z');
let client: OpenAI;

before(async () => {
  upstream = await startFakeOpenAIUpstream();
  gw = await startTestGateway(`
router: { num_retries: 0, disable_cooldowns: true }
general_settings: { master_key: ${MASTER_KEY} }
teams:
  cache-team: {}
cache:
  enabled: true
  ttl_seconds: 600
  semantic: { enabled: true, similarity_threshold: 0.9, context_turns: 0 }
  tenants: { hospital: never, careful: default_off }
models:
  faq:
    deployments:
      - id: fake-faq
        provider: openai_compatible
        model: ok
        api_base: ${upstream.baseURL}
        api_key: ${UPSTREAM_KEY}
        input_cost_per_token: ${PRICE.input}
        output_cost_per_token: ${PRICE.output}
  exact-only:
    cache: { semantic: false }
    deployments:
      - { id: fake-exact, provider: openai_compatible, model: ok, api_base: "${upstream.baseURL}", api_key: ${UPSTREAM_KEY} }
  uncached:
    cache: { mode: off }
    deployments:
      - { id: fake-uncached, provider: openai_compatible, model: ok, api_base: "${upstream.baseURL}", api_key: ${UPSTREAM_KEY} }
`, {}, { now: () => clock });
  client = new OpenAI({ apiKey: MASTER_KEY, baseURL: gw.baseURL, maxRetries: 0 });
});

after(async () => {
  await gw?.shutdown();
  await upstream?.close();
});

let n = 0;
/** A prompt no other test uses. */
const fresh = (what: string) => `${what} #${++n} ${randomUUID()} ${randomUUID()}: what are your opening hours on public holidays?`;
const calls = () => upstream.requests.filter((r) => r.path === '/v1/chat/completions').length;

async function ask(model: string, content: string, headers: Record<string, string> = {}, extra: Record<string, unknown> = {}) {
  const before = calls();
  const { data, response } = await client.chat.completions
    .create({ model, messages: [{ role: 'user', content }], ...extra } as OpenAI.ChatCompletionCreateParamsNonStreaming, { headers })
    .withResponse();
  return { data, cache: response.headers.get('x-gateway-cache'), similarity: response.headers.get('x-gateway-cache-similarity'), upstreamCalls: calls() - before, requestId: response.headers.get('x-request-id')! };
}

test('a miss goes upstream and is stored; the same request is then a hit, with no upstream call', async () => {
  const prompt = fresh('exact');
  const first = await ask('faq', prompt, { 'x-tenant-id': 'acme' });
  assert.equal(first.cache, 'miss');
  assert.equal(first.upstreamCalls, 1);
  const second = await eventually('the stored answer', async () => {
    const r = await ask('faq', prompt, { 'x-tenant-id': 'acme' });
    return r.cache === 'hit' ? r : undefined;
  });
  assert.equal(second.upstreamCalls, 0);
  assert.equal(second.similarity, null, 'an exact hit has no similarity');
  assert.equal(second.data.choices[0]!.message.content, FAKE_TEXT);
  assert.deepEqual(second.data.usage, first.data.usage);
  assert.equal(second.data.id, first.data.id);
});

test('field order and whitespace do not matter; a parameter that changes the output does', async () => {
  const prompt = fresh('canonical');
  await ask('exact-only', prompt, { 'x-tenant-id': 'acme' }, { temperature: 0, max_tokens: 50 });
  // The same request with its fields in another order, as raw JSON with extra whitespace.
  const raw = await eventually('a hit for the reordered body', async () => {
    const res = await fetch(`${gw.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${MASTER_KEY}`, 'content-type': 'application/json', 'x-tenant-id': 'acme' },
      body: `{ "max_tokens": 50,\n  "messages": [ {"content": ${JSON.stringify(prompt)}, "role": "user"} ], "temperature": 0, "model": "exact-only" }`,
    });
    await res.arrayBuffer();
    return res.headers.get('x-gateway-cache') === 'hit' ? res : undefined;
  });
  assert.equal(raw.status, 200);
  const other = await ask('exact-only', prompt, { 'x-tenant-id': 'acme' }, { temperature: 0, max_tokens: 51 });
  assert.equal(other.cache, 'miss');
  assert.equal(other.upstreamCalls, 1);
});

test('a streamed request is answered from the cache as a stream the OpenAI SDK parses, usage chunk included', async () => {
  const prompt = fresh('stream');
  await ask('faq', prompt, { 'x-tenant-id': 'acme' });
  await eventually('stored', async () => ((await ask('faq', prompt, { 'x-tenant-id': 'acme' })).cache === 'hit' ? true : undefined));
  const before = calls();
  const { data: stream, response } = await client.chat.completions
    .create({ model: 'faq', messages: [{ role: 'user', content: prompt }], stream: true, stream_options: { include_usage: true } }, { headers: { 'x-tenant-id': 'acme' } })
    .withResponse();
  assert.equal(response.headers.get('x-gateway-cache'), 'hit');
  assert.match(response.headers.get('content-type') ?? '', /^text\/event-stream/);
  let text = '';
  let usage: OpenAI.CompletionUsage | undefined | null;
  let finish: string | null = null;
  for await (const chunk of stream) {
    assert.equal(chunk.object, 'chat.completion.chunk');
    for (const choice of chunk.choices) {
      text += choice.delta.content ?? '';
      finish = choice.finish_reason ?? finish;
    }
    if (chunk.usage) usage = chunk.usage;
  }
  assert.equal(text, FAKE_TEXT);
  assert.equal(finish, 'stop');
  assert.equal(usage?.total_tokens, FAKE_USAGE.total_tokens);
  assert.equal(calls() - before, 0);
});

test('a streamed miss is assembled and stored: the next request, streamed or not, is a hit', async () => {
  const prompt = fresh('streamed-miss');
  const stream = await client.chat.completions.create({ model: 'faq', messages: [{ role: 'user', content: prompt }], stream: true }, { headers: { 'x-tenant-id': 'acme' } });
  let text = '';
  for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
  assert.equal(text, FAKE_TEXT);
  const hit = await eventually('stored', async () => {
    const r = await ask('faq', prompt, { 'x-tenant-id': 'acme' });
    return r.cache === 'hit' ? r : undefined;
  });
  assert.equal(hit.data.choices[0]!.message.content, FAKE_TEXT);
  assert.equal(hit.data.usage?.total_tokens, FAKE_USAGE.total_tokens, 'the provider usage of the stream is kept');
});

test('another tenant never gets a hit: the same prompt, a near-duplicate, and many tenants writing at once', async () => {
  const prompt = fresh('isolation');
  await ask('faq', prompt, { 'x-tenant-id': 'tenant-a' });
  await eventually('stored for a', async () => ((await ask('faq', prompt, { 'x-tenant-id': 'tenant-a' })).cache === 'hit' ? true : undefined));
  for (const content of [prompt, prompt.toUpperCase(), `${prompt}!`, `  ${prompt}  `]) {
    // no-store: tenant-b's own answers must not become the hits this checks for.
    const r = await ask('faq', content, { 'x-tenant-id': 'tenant-b', 'cache-control': 'no-store' });
    assert.notEqual(r.cache, 'hit', `tenant-b must not be served tenant-a's entry for ${JSON.stringify(content)}`);
    assert.equal(r.upstreamCalls, 1);
  }
  // Twenty tenants write the same new prompt concurrently; each then reads: a tenant's first
  // request is always a miss, whatever the others stored meanwhile.
  const shared = fresh('concurrent');
  const tenants = Array.from({ length: 20 }, (_, i) => `t-${n}-${i}`);
  const firsts = await Promise.all(tenants.map((t) => ask('faq', shared, { 'x-tenant-id': t })));
  for (const first of firsts) assert.equal(first.cache, 'miss');
  const late = await ask('faq', shared, { 'x-tenant-id': `t-${n}-late` });
  assert.equal(late.cache, 'miss');
  assert.equal(late.upstreamCalls, 1);
});

test('semantic: a near-duplicate prompt hits with its similarity; a different question does not', async () => {
  const prompt = fresh('semantic');
  await ask('faq', prompt, { 'x-tenant-id': 'acme' });
  const near = await eventually('a semantic hit', async () => {
    const r = await ask('faq', prompt.replace('what are', 'What are').replace('?', ' ??'), { 'x-tenant-id': 'acme' });
    return r.cache === 'hit' ? r : undefined;
  });
  assert.equal(near.upstreamCalls, 0);
  assert.ok(Number(near.similarity) >= 0.9 && Number(near.similarity) <= 1, `similarity ${near.similarity}`);
  const other = await ask('faq', `How do I reset my password? (${n})`, { 'x-tenant-id': 'acme' });
  assert.equal(other.cache, 'miss');
  // An alias with semantic: false matches exact requests only.
  const exactPrompt = fresh('exact-alias');
  await ask('exact-only', exactPrompt, { 'x-tenant-id': 'acme' });
  await eventually('stored', async () => ((await ask('exact-only', exactPrompt, { 'x-tenant-id': 'acme' })).cache === 'hit' ? true : undefined));
  assert.equal((await ask('exact-only', `${exactPrompt} `, { 'x-tenant-id': 'acme' })).cache, 'miss');
});

test('Cache-Control no-cache skips the lookup but stores; no-store does not store; max-age bounds the age', async () => {
  const prompt = fresh('controls');
  await ask('exact-only', prompt, { 'x-tenant-id': 'acme', 'cache-control': 'no-store' });
  assert.equal((await ask('exact-only', prompt, { 'x-tenant-id': 'acme', 'cache-control': 'no-cache' })).cache, 'miss');
  const hit = await eventually('stored by the no-cache request', async () => {
    const r = await ask('exact-only', prompt, { 'x-tenant-id': 'acme' });
    return r.cache === 'hit' ? r : undefined;
  });
  assert.equal(hit.upstreamCalls, 0);
  clock += 120_000;
  assert.equal((await ask('exact-only', prompt, { 'x-tenant-id': 'acme', 'cache-control': 'max-age=60' })).cache, 'miss');
  assert.equal((await ask('exact-only', prompt, { 'x-tenant-id': 'acme', 'cache-control': 'max-age=600' })).cache, 'hit');
});

test("LiteLLM's body form: cache.no-cache, ttl and namespace; the field never reaches the provider", async () => {
  const prompt = fresh('body-controls');
  const first = await ask('exact-only', prompt, { 'x-tenant-id': 'acme' }, { cache: { ttl: 30, namespace: 'faq-v2' } });
  assert.equal(first.cache, 'miss');
  assert.equal(upstream.byRequestId(first.requestId).body.cache, undefined, 'the cache controls are not sent upstream');
  await eventually('stored', async () => ((await ask('exact-only', prompt, { 'x-tenant-id': 'acme' }, { cache: { namespace: 'faq-v2' } })).cache === 'hit' ? true : undefined));
  assert.equal((await ask('exact-only', prompt, { 'x-tenant-id': 'acme' })).cache, 'miss', 'another namespace');
  assert.equal((await ask('exact-only', prompt, { 'x-tenant-id': 'acme' }, { cache: { namespace: 'faq-v2', 'no-cache': true } })).cache, 'miss');
  clock += 31_000;
  assert.equal((await ask('exact-only', prompt, { 'x-tenant-id': 'acme' }, { cache: { namespace: 'faq-v2', 'no-store': true } })).cache, 'miss', 'the 30 s ttl ran out on the injected clock');
});

test('a malformed cache field or version header is a 400 naming it', async () => {
  const bad = async (body: Record<string, unknown>, headers: Record<string, string> = {}) => {
    const res = await fetch(`${gw.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${MASTER_KEY}`, 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ model: 'faq', messages: [{ role: 'user', content: 'hi' }], ...body }),
    });
    return { status: res.status, error: ((await res.json()) as { error: { code: string; param: string } }).error };
  };
  assert.deepEqual(await bad({ cache: { ttl: 'soon' } }).then((r) => [r.status, r.error.code, r.error.param]), [400, 'invalid_request', 'cache.ttl']);
  assert.deepEqual(await bad({ cache: { 'no-cahce': true } }).then((r) => [r.status, r.error.param]), [400, 'cache.no-cahce']);
  assert.deepEqual(await bad({ cache: 'yes' }).then((r) => [r.status, r.error.param]), [400, 'cache']);
  assert.deepEqual(await bad({}, { 'x-cache-namespace-version': 'has spaces' }).then((r) => [r.status, r.error.param]), [400, 'x-cache-namespace-version']);
});

test('skipped by default: tool-calling turns, n > 1, a high temperature; off aliases and never tenants', async () => {
  const prompt = fresh('skips');
  const tools = [{ type: 'function', function: { name: 'lookup', parameters: { type: 'object', properties: {} } } }];
  assert.equal((await ask('faq', prompt, { 'x-tenant-id': 'acme' }, { tools })).cache, 'skip');
  assert.equal((await ask('faq', prompt, { 'x-tenant-id': 'acme' }, { n: 2 })).cache, 'skip');
  assert.equal((await ask('faq', prompt, { 'x-tenant-id': 'acme' }, { temperature: 1.2 })).cache, 'skip');
  assert.equal((await ask('uncached', prompt, { 'x-tenant-id': 'acme' })).cache, 'skip');
  for (let i = 0; i < 2; i++) {
    const r = await ask('faq', prompt, { 'x-tenant-id': 'hospital' }, { cache: { 'use-cache': true } });
    assert.equal(r.cache, 'skip', 'a never tenant cannot opt in');
    assert.equal(r.upstreamCalls, 1);
  }
});

test('default_off: only a request that opts in uses the cache', async () => {
  const prompt = fresh('opt-in');
  assert.equal((await ask('faq', prompt, { 'x-tenant-id': 'careful' })).cache, 'skip');
  assert.equal((await ask('faq', prompt, { 'x-tenant-id': 'careful', 'x-gateway-cache': 'use' })).cache, 'miss');
  await eventually('an opted-in hit', async () => ((await ask('faq', prompt, { 'x-tenant-id': 'careful' }, { cache: { 'use-cache': true } })).cache === 'hit' ? true : undefined));
  assert.equal((await ask('faq', prompt, { 'x-tenant-id': 'careful' })).cache, 'skip');
});

test('a version bump and POST /admin/cache/invalidate both end hits at once', async () => {
  const prompt = fresh('invalidate');
  const v1 = { 'x-tenant-id': 'kb-tenant', 'x-cache-namespace-version': 'kb-1' };
  await ask('faq', prompt, v1);
  await eventually('stored', async () => ((await ask('faq', prompt, v1)).cache === 'hit' ? true : undefined));
  assert.equal((await ask('faq', prompt, { ...v1, 'x-cache-namespace-version': 'kb-2' })).cache, 'miss');
  await eventually('stored under kb-2', async () => ((await ask('faq', prompt, { ...v1, 'x-cache-namespace-version': 'kb-2' })).cache === 'hit' ? true : undefined));
  const done = await adminRequest(gw.url, MASTER_KEY, 'POST', '/admin/cache/invalidate', { tenant: 'kb-tenant', alias: 'faq' });
  assert.equal(done.status, 200, JSON.stringify(done.json));
  assert.deepEqual(done.json, { invalidated: { namespace_owner: 'tenant:kb-tenant', alias: 'faq' } });
  const audit = await adminRequest(gw.url, MASTER_KEY, 'GET', '/admin/audit?object_type=tenant&object_id=kb-tenant');
  assert.equal(audit.status, 200, JSON.stringify(audit.json));
  assert.ok(audit.json.data.some((e: { action: string; actor: string }) => e.action === 'cache.invalidate:faq' && e.actor === 'master'), JSON.stringify(audit.json));
  assert.equal((await ask('faq', prompt, v1)).cache, 'miss');
  assert.equal((await ask('faq', prompt, { ...v1, 'x-cache-namespace-version': 'kb-2' })).cache, 'miss');
  const bad = await adminRequest(gw.url, MASTER_KEY, 'POST', '/admin/cache/invalidate', { tenant: 'a', team: 'b' });
  assert.equal(bad.status, 400);
  const unauthenticated = await fetch(`${gw.url}/admin/cache/invalidate`, { method: 'POST', body: '{"tenant":"kb-tenant"}' });
  assert.equal(unauthenticated.status, 401);
});

test('a hit writes a ledger row: cache_hit, no provider cost, and the cost it saved', async () => {
  const prompt = fresh('ledger');
  await ask('faq', prompt, { 'x-tenant-id': 'ledger-tenant' });
  const hit = await eventually('a hit', async () => {
    const r = await ask('faq', prompt, { 'x-tenant-id': 'ledger-tenant' });
    return r.cache === 'hit' ? r : undefined;
  });
  const row = await eventually('the hit ledger row', async () => (await allEvents(gw.url, MASTER_KEY)).find((e) => e.request_id === hit.requestId));
  assert.equal(row.cache_hit, true);
  assert.equal(row.outcome.status, 'cache_hit');
  assert.equal(row.cost_usd.total, 0);
  const u = FAKE_USAGE;
  const cached = u.prompt_tokens_details.cached_tokens;
  const expected = (u.prompt_tokens - cached) * PRICE.input + cached * PRICE.input + u.completion_tokens * PRICE.output;
  assert.ok(Math.abs(row.cost_usd.saved - expected) < 1e-12, `saved ${row.cost_usd.saved}, expected ${expected}`);
  assert.equal(row.model_alias, 'faq');
  assert.equal(row.tenant_id, 'ledger-tenant');
});

test('hits do not spend a key rate limit unless cache.count_hits_toward_rpm', async () => {
  const created = await adminRequest(gw.url, MASTER_KEY, 'POST', '/admin/keys', { team_id: 'cache-team', rpm_limit: 2 });
  assert.equal(created.status, 201, JSON.stringify(created.json));
  const keyed = new OpenAI({ apiKey: created.json.key, baseURL: gw.baseURL, maxRetries: 0 });
  const tenant = { 'x-tenant-id': 'rpm-tenant' };
  const prompt = fresh('rpm');
  const create = (content: string) => keyed.chat.completions.create({ model: 'exact-only', messages: [{ role: 'user', content }] }, { headers: tenant }).withResponse();
  await create(prompt); // 1 of 2
  // The master key (same tenant, so the same namespace) waits until the answer is stored.
  await eventually('stored', async () => ((await ask('exact-only', prompt, tenant)).cache === 'hit' ? true : undefined));
  for (let i = 0; i < 5; i++) assert.equal((await create(prompt)).response.headers.get('x-gateway-cache'), 'hit');
  const second = await create(fresh('rpm-miss')); // 2 of 2
  assert.equal(second.response.headers.get('x-ratelimit-remaining-requests'), '0', JSON.stringify(Object.fromEntries(second.response.headers)));
  await assert.rejects(create(fresh('rpm-miss')), (err: { status?: number }) => err.status === 429);
});
