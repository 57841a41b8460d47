// Three gateway replicas sharing the response cache through the machine's Redis (exact and
// semantic entries, invalidation), and a gateway whose cache Redis is down: requests are served
// as misses, never failed. Redis is TOLLGATE_TEST_REDIS_URL (default 127.0.0.1:6379) under a key
// prefix of this run's own, deleted at the end.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import OpenAI from 'openai';
import { adminRequest } from '../helpers/admin-request.ts';
import { closedPort, FAKE_TEXT, startFakeOpenAIUpstream, type FakeOpenAIUpstream } from '../helpers/fake-openai-upstream.ts';
import { startTestGateway, type TestGateway } from '../helpers/test-gateway.ts';
import { openTestRedis, type TestRedis } from '../helpers/test-redis.ts';
import { eventually } from './ledger-helpers.ts';

const MASTER_KEY = 'sk-master-cache-replicas-0001';
const UPSTREAM_KEY = 'sk-upstream-cache-replicas-0001';

let redis: TestRedis;
let upstream: FakeOpenAIUpstream;
const replicas: TestGateway[] = [];

function yaml(redisUrl: string, prefix: string): string {
  return `
router: { num_retries: 0, disable_cooldowns: true }
general_settings: { master_key: ${MASTER_KEY} }
redis: { url: "${redisUrl}", key_prefix: "${prefix}" }
limits: { backend: memory }
cache:
  enabled: true
  backend: redis
  semantic: { enabled: true, threshold: 0.9, context_turns: 0 }
models:
  faq:
    deployments:
      - { id: fake-faq, provider: openai_compatible, model: ok, api_base: "${upstream.baseURL}", api_key: ${UPSTREAM_KEY} }
`;
}

before(async () => {
  redis = await openTestRedis('the response cache replica tests');
  upstream = await startFakeOpenAIUpstream();
  if (redis.unreachable) return;
  const prefix = redis.prefix();
  for (let i = 0; i < 3; i++) replicas.push(await startTestGateway(yaml(redis.url, prefix)));
});

after(async () => {
  await Promise.all(replicas.map((r) => r.shutdown()));
  await upstream?.close();
  await redis?.cleanup();
});

const calls = () => upstream.requests.filter((r) => r.path === '/v1/chat/completions').length;

async function ask(gw: TestGateway, content: string, tenant: string, headers: Record<string, string> = {}) {
  const client = new OpenAI({ apiKey: MASTER_KEY, baseURL: gw.baseURL, maxRetries: 0 });
  const before = calls();
  const { data, response } = await client.chat.completions.create({ model: 'faq', messages: [{ role: 'user', content }] }, { headers: { 'x-tenant-id': tenant, ...headers } }).withResponse();
  return { data, cache: response.headers.get('x-gateway-cache'), similarity: response.headers.get('x-gateway-cache-similarity'), upstreamCalls: calls() - before };
}

test('an answer one replica stored is a hit on the others, exact and semantic; another tenant still misses', async (t) => {
  if (redis.unreachable) return t.skip(redis.unreachable);
  const [a, b, c] = replicas as [TestGateway, TestGateway, TestGateway];
  const prompt = 'Replicas: how long does a refund to a credit card take?';
  assert.equal((await ask(a, prompt, 'acme')).cache, 'miss');
  for (const gw of [b, c]) {
    const hit = await eventually('an exact hit on another replica', async () => {
      const r = await ask(gw, prompt, 'acme');
      return r.cache === 'hit' ? r : undefined;
    });
    assert.equal(hit.upstreamCalls, 0);
    assert.equal(hit.data.choices[0]!.message.content, FAKE_TEXT);
  }
  const near = await eventually('a semantic hit on another replica', async () => {
    const r = await ask(c, `${prompt.toLowerCase()} ??`, 'acme');
    return r.cache === 'hit' ? r : undefined;
  });
  assert.ok(Number(near.similarity) >= 0.9);
  assert.notEqual((await ask(b, prompt, 'globex', { 'cache-control': 'no-store' })).cache, 'hit');
});

test('an invalidation on one replica ends hits on all of them at once', async (t) => {
  if (redis.unreachable) return t.skip(redis.unreachable);
  const [a, b, c] = replicas as [TestGateway, TestGateway, TestGateway];
  const prompt = 'Replicas: what is the warranty on refurbished laptops?';
  await ask(a, prompt, 'kb');
  await eventually('stored', async () => ((await ask(b, prompt, 'kb')).cache === 'hit' ? true : undefined));
  const done = await adminRequest(c.url, MASTER_KEY, 'POST', '/admin/cache/invalidate', { tenant: 'kb' });
  assert.equal(done.status, 200);
  // no-store: a miss here must not store an answer the next replica would then hit.
  for (const gw of [a, b, c]) assert.equal((await ask(gw, prompt, 'kb', { 'cache-control': 'no-store' })).cache, 'miss');
});

test('a cache whose Redis is down serves every request as a miss, with no error', async () => {
  const gw = await startTestGateway(yaml(`redis://127.0.0.1:${await closedPort()}`, 'tg-test-down:'));
  try {
    for (let i = 0; i < 3; i++) {
      const r = await ask(gw, 'Redis down: is the shop open?', 'acme');
      assert.equal(r.data.choices[0]!.message.content, FAKE_TEXT);
      assert.equal(r.cache, 'miss');
      assert.equal(r.upstreamCalls, 1);
    }
    assert.ok(gw.logs().some((l) => l.msg === 'response cache unavailable: serving without it'));
  } finally {
    await gw.shutdown();
  }
});
