// Response cache options end to end: the semantic cache with an embedding alias as its embedder
// (called through the gateway's own provider layer), and hits that count toward a key's rate
// limit when cache.count_hits_toward_rpm is set.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import OpenAI from 'openai';
import { adminRequest } from '../helpers/admin-request.ts';
import { FAKE_TEXT, startFakeOpenAIUpstream, type FakeOpenAIUpstream } from '../helpers/fake-openai-upstream.ts';
import { startTestGateway, type TestGateway } from '../helpers/test-gateway.ts';
import { eventually } from './ledger-helpers.ts';

const MASTER_KEY = 'sk-master-cache-options-0001';
const UPSTREAM_KEY = 'sk-upstream-cache-options-0001';

let upstream: FakeOpenAIUpstream;
let gw: TestGateway;

before(async () => {
  upstream = await startFakeOpenAIUpstream();
  gw = await startTestGateway(`
router: { num_retries: 0, disable_cooldowns: true }
general_settings: { master_key: ${MASTER_KEY} }
teams:
  counted: {}
cache:
  enabled: true
  count_hits_toward_rpm: true
  semantic: { enabled: true, embedder: embed, threshold: 0.99 }
models:
  faq:
    deployments:
      - { id: fake-faq, provider: openai_compatible, model: ok, api_base: "${upstream.baseURL}", api_key: ${UPSTREAM_KEY} }
  embed:
    deployments:
      - { id: fake-embed, provider: openai_compatible, model: embedder, api_base: "${upstream.baseURL}", api_key: ${UPSTREAM_KEY} }
`);
});

after(async () => {
  await gw?.shutdown();
  await upstream?.close();
});

test('an embedding alias as the embedder: the gateway embeds the prompt through its own provider layer', async () => {
  const client = new OpenAI({ apiKey: MASTER_KEY, baseURL: gw.baseURL, maxRetries: 0 });
  const ask = async (content: string) => {
    const { data, response } = await client.chat.completions.create({ model: 'faq', messages: [{ role: 'user', content }] }, { headers: { 'x-tenant-id': 'emb' } }).withResponse();
    return { data, cache: response.headers.get('x-gateway-cache'), similarity: response.headers.get('x-gateway-cache-similarity') };
  };
  assert.equal((await ask('What is the return policy?')).cache, 'miss');
  const embedded = upstream.requests.filter((r) => r.path === '/v1/embeddings');
  assert.ok(embedded.length >= 1, 'the embedding alias was called');
  assert.equal(embedded.at(-1)!.body.input, 'What is the return policy?');
  assert.equal(embedded.at(-1)!.body.model, 'embedder', "the embedding deployment's pinned model");
  // The fake embeds every text alike, so any other wording is a semantic hit at similarity 1.
  const hit = await eventually('a semantic hit', async () => {
    const r = await ask('Something else entirely');
    return r.cache === 'hit' ? r : undefined;
  });
  assert.equal(hit.similarity, '1.0000');
  assert.equal(hit.data.choices[0]!.message.content, FAKE_TEXT);
});

test("count_hits_toward_rpm: hits take their place in the key's request window", async () => {
  const created = await adminRequest(gw.url, MASTER_KEY, 'POST', '/admin/keys', { team_id: 'counted', rpm_limit: 2 });
  assert.equal(created.status, 201, JSON.stringify(created.json));
  const keyed = new OpenAI({ apiKey: created.json.key, baseURL: gw.baseURL, maxRetries: 0 });
  const create = () => keyed.chat.completions.create({ model: 'faq', messages: [{ role: 'user', content: 'Counted hits?' }] }, { headers: { 'x-tenant-id': 'counted-tenant', 'cache-control': 'no-store' } }).withResponse();
  // Store the answer with the master key, so the key's requests are all hits.
  const master = new OpenAI({ apiKey: MASTER_KEY, baseURL: gw.baseURL, maxRetries: 0 });
  await master.chat.completions.create({ model: 'faq', messages: [{ role: 'user', content: 'Counted hits?' }] }, { headers: { 'x-tenant-id': 'counted-tenant' } });
  await eventually('stored', async () => ((await master.chat.completions.create({ model: 'faq', messages: [{ role: 'user', content: 'Counted hits?' }] }, { headers: { 'x-tenant-id': 'counted-tenant' } }).withResponse()).response.headers.get('x-gateway-cache') === 'hit' ? true : undefined));
  const first = await create();
  assert.equal(first.response.headers.get('x-gateway-cache'), 'hit');
  assert.equal(first.response.headers.get('x-ratelimit-remaining-requests'), '1');
  assert.equal((await create()).response.headers.get('x-gateway-cache'), 'hit');
  await assert.rejects(create(), (err: { status?: number }) => err.status === 429);
});
