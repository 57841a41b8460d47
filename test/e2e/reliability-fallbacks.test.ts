// Reliability routing end to end, the fallback side (non-streaming): an ordered fallback chain,
// a fallback across providers (OpenAI-compatible primary → Anthropic fallback, the client still
// gets an OpenAI answer), router.default_fallbacks, the model ACL on fallbacks (a key does not
// get a fallback alias it may not use, unless the fallback is open_to_all), what the client and
// the logs see (x-gateway-attempts, x-gateway-fallback-used/-alias, 'falling back' lines), and
// the fallback drill header (admins only). Cooldowns are off: every failure is only retried.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { FAKE_AN_TEXT, startFakeAnthropicUpstream, type FakeAnthropicUpstream } from '../helpers/fake-anthropic-upstream.ts';
import { startFaultUpstream, type FaultUpstream } from '../helpers/fault-upstream.ts';
import { chat, faultDeployment, logLines, metric } from '../helpers/reliability.ts';
import { startTestGateway, type TestGateway } from '../helpers/test-gateway.ts';

const MASTER_KEY = 'sk-master-reliability-fallbacks-01';
const ANTHROPIC_KEY = 'tgw-anthropic-deploykey-fallback-01';
/** Non-admin key: may use acl-primary and acl-open-primary, not their fallbacks. */
const APP_KEY = 'sk-tg-reliability-app-key-0123456789abcdefghijk';
/** Non-admin key that may also use acl-fb. */
const WIDE_KEY = 'sk-tg-reliability-wide-key-0123456789abcdefghij';
/** A virtual key with role admin. */
const OPS_KEY = 'sk-tg-reliability-ops-key-0123456789abcdefghijkl';

let up: FaultUpstream;
let anthropic: FakeAnthropicUpstream;
let gw: TestGateway;

function alias(name: string, routing = '', deployments = [faultDeployment('BASE', `dep-${name}`, name)]): string {
  return [`  ${name}:`, '    deployments:', ...deployments, ...(routing ? [`    routing: ${routing}`] : [])].join('\n');
}

before(async () => {
  up = await startFaultUpstream();
  anthropic = await startFakeAnthropicUpstream({ apiKey: ANTHROPIC_KEY });
  const yaml = `
general_settings:
  master_key: ${MASTER_KEY}
router:
  routing_strategy: ordered
  num_retries: 1
  backoff: { initial_ms: 5, max_ms: 20 }
  disable_cooldowns: true
  default_fallbacks: [spare]
teams:
  apps: { team_alias: Apps }
keys:
  app:
    key: os.environ/APP_KEY
    team_id: apps
    models: [acl-primary, acl-open-primary, drill]
  wide:
    key: os.environ/WIDE_KEY
    team_id: apps
    models: [acl-primary, acl-fb]
  ops:
    key: os.environ/OPS_KEY
    team_id: apps
    role: admin
models:
${alias('chain-a', '{ fallbacks: [chain-b, chain-c] }')}
${alias('chain-b', '{ fallbacks: [] }')}
${alias('chain-c', '{ fallbacks: [] }')}
${alias('spare')}
${alias('orphan')}
${alias('no-default', '{ fallbacks: [] }')}
${alias('cross', '{ fallbacks: [claude] }')}
  claude:
    deployments:
      - id: dep-claude
        provider: anthropic
        model: text
        api_base: ${anthropic.url}
        api_key: ${ANTHROPIC_KEY}
${alias('acl-primary', '{ fallbacks: [acl-fb] }')}
${alias('acl-fb')}
${alias('acl-open-primary', '{ fallbacks: [{ model: acl-open, open_to_all: true }] }')}
${alias('acl-open')}
${alias('drill', '', [faultDeployment('BASE', 'dep-drill-a', 'drill-a'), faultDeployment('BASE', 'dep-drill-b', 'drill-b')])}
`.replaceAll('BASE', up.baseURL);
  gw = await startTestGateway(yaml, { APP_KEY, WIDE_KEY, OPS_KEY });
});

after(async () => {
  await gw?.shutdown();
  await up?.close();
  await anthropic?.close();
});

const fails = { kind: 'status', status: 500 } as const;
const overloaded = { kind: 'status', status: 503 } as const;
const counts = (...models: string[]) => models.map((m) => up.count(m));
const delta = (before: number[], ...models: string[]) => counts(...models).map((n, i) => n - before[i]!);
const movesOf = (requestId: string | null) => logLines(gw, 'falling back', (l) => l.request_id === requestId).map((l) => [l.from, l.to, l.reason]);

describe('fallback chains', () => {
  test('fallbacks: [b, c] are tried in order after the primary\'s retries; visible in headers, logs and metrics', async () => {
    up.standing('chain-a', fails);
    up.standing('chain-b', overloaded);
    const before = up.requests.length;
    const answer = await chat(gw, MASTER_KEY, 'chain-a');
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(answer.servedBy, 'chain-c');
    assert.deepEqual(up.requests.slice(before).map((r) => r.model), ['chain-a', 'chain-a', 'chain-b', 'chain-b', 'chain-c']);
    assert.equal(answer.headers.get('x-gateway-attempts'), '5');
    assert.equal(answer.headers.get('x-gateway-fallback-used'), 'true');
    assert.equal(answer.headers.get('x-gateway-fallback-alias'), 'chain-c');
    assert.equal(answer.headers.get('x-gateway-deployment'), 'dep-chain-c');
    assert.equal(answer.headers.get('x-gateway-model-resolved'), 'chain-c');
    const id = answer.headers.get('x-request-id');
    assert.deepEqual(movesOf(id), [['chain-a', 'chain-b', 'upstream_error'], ['chain-b', 'chain-c', 'upstream_overloaded']]);
    const retries = logLines(gw, 'retrying', (l) => l.request_id === id);
    assert.deepEqual(retries.map((l) => [l.alias, l.reason, l.code]), [['chain-a', 'server_error', 'upstream_error'], ['chain-b', 'server_error', 'upstream_overloaded']]);
    assert.equal(await metric(gw, 'tollgate_fallbacks_total', { alias: 'chain-a', to: 'chain-c' }), 1);
    const access = await gw.accessLog(id!);
    assert.equal(access.model, 'chain-c');
    assert.equal(access.attempts, 5);
    assert.equal(access.fallback_from, 'chain-a');
  });

  test('the chain stops at the first fallback that answers', async () => {
    up.standing('chain-a', fails);
    up.standing('chain-b', { kind: 'ok' });
    const before = counts('chain-a', 'chain-b', 'chain-c');
    const answer = await chat(gw, MASTER_KEY, 'chain-a');
    assert.equal(answer.servedBy, 'chain-b');
    assert.deepEqual(delta(before, 'chain-a', 'chain-b', 'chain-c'), [2, 1, 0]);
    assert.equal(answer.headers.get('x-gateway-fallback-alias'), 'chain-b');
  });

  test('the whole chain failing: the client gets the last error, a valid envelope, after every attempt', async () => {
    up.standing('chain-a', fails);
    up.standing('chain-b', fails);
    up.standing('chain-c', overloaded);
    const before = counts('chain-a', 'chain-b', 'chain-c');
    const answer = await chat(gw, MASTER_KEY, 'chain-a');
    assert.equal(answer.status, 503);
    assert.equal(answer.body.error.code, 'upstream_overloaded');
    assert.deepEqual(delta(before, 'chain-a', 'chain-b', 'chain-c'), [2, 2, 2]);
    assert.equal(answer.headers.get('x-gateway-attempts'), '6');
    up.reset();
  });

  test('cross-provider: an OpenAI-compatible primary falls back to an Anthropic deployment; the OpenAI SDK gets a chat.completion', async () => {
    up.standing('cross', overloaded);
    const client = new OpenAI({ apiKey: MASTER_KEY, baseURL: gw.baseURL, maxRetries: 0, timeout: 10_000 });
    const before = anthropic.requests.length;
    const { data, response } = await client.chat.completions.create({ model: 'cross', messages: [{ role: 'user', content: 'Say hello.' }], max_tokens: 50 }).withResponse();
    assert.equal(data.object, 'chat.completion');
    assert.equal(data.choices[0]!.message.role, 'assistant');
    assert.equal(data.choices[0]!.message.content, FAKE_AN_TEXT);
    assert.equal(typeof data.usage?.total_tokens, 'number');
    assert.equal(anthropic.requests.length - before, 1);
    assert.equal(anthropic.requests.at(-1)!.path, '/v1/messages');
    assert.equal(up.count('cross'), 2);
    assert.equal(response.headers.get('x-gateway-fallback-used'), 'true');
    assert.equal(response.headers.get('x-gateway-fallback-alias'), 'claude');
    assert.equal(response.headers.get('x-gateway-provider'), 'anthropic');
    assert.equal(response.headers.get('x-gateway-deployment'), 'dep-claude');
    assert.equal(response.headers.get('x-gateway-attempts'), '3');
    assert.deepEqual(movesOf(response.headers.get('x-request-id')), [['cross', 'claude', 'upstream_overloaded']]);
    up.reset();
  });
});

describe('router.default_fallbacks', () => {
  test('an alias without its own fallbacks uses default_fallbacks', async () => {
    up.standing('orphan', fails);
    const before = counts('orphan', 'spare');
    const answer = await chat(gw, MASTER_KEY, 'orphan');
    assert.equal(answer.servedBy, 'spare');
    assert.deepEqual(delta(before, 'orphan', 'spare'), [2, 1]);
    assert.equal(answer.headers.get('x-gateway-fallback-alias'), 'spare');
    assert.deepEqual(movesOf(answer.headers.get('x-request-id')), [['orphan', 'spare', 'upstream_error']]);
  });

  test('an alias with its own `fallbacks: []` does not', async () => {
    up.standing('no-default', fails);
    const before = counts('no-default', 'spare');
    const answer = await chat(gw, MASTER_KEY, 'no-default');
    assert.equal(answer.status, 502);
    assert.equal(answer.body.error.code, 'upstream_error');
    assert.deepEqual(delta(before, 'no-default', 'spare'), [2, 0]);
    assert.equal(answer.headers.get('x-gateway-fallback-used'), 'false');
    up.reset();
  });
});

describe('fallbacks and the model ACL', () => {
  test('a key that may not use the fallback alias gets the primary\'s error; the fallback is never called', async () => {
    up.standing('acl-primary', fails);
    const before = counts('acl-primary', 'acl-fb');
    const client = new OpenAI({ apiKey: APP_KEY, baseURL: gw.baseURL, maxRetries: 0, timeout: 10_000 });
    const err = await client.chat.completions.create({ model: 'acl-primary', messages: [{ role: 'user', content: 'hi' }] }).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof OpenAI.APIError, String(err));
    assert.equal(err.status, 502);
    assert.equal(err.code, 'upstream_error');
    assert.equal(err.headers?.get('x-gateway-fallback-used'), 'false');
    assert.deepEqual(delta(before, 'acl-primary', 'acl-fb'), [2, 0]);
  });

  test('a key whose models include the fallback, and the master key, do get it', async () => {
    up.standing('acl-primary', fails);
    for (const key of [WIDE_KEY, MASTER_KEY]) {
      const before = counts('acl-primary', 'acl-fb');
      const answer = await chat(gw, key, 'acl-primary');
      assert.equal(answer.servedBy, 'acl-fb', key === MASTER_KEY ? 'master key' : 'wide key');
      assert.deepEqual(delta(before, 'acl-primary', 'acl-fb'), [2, 1]);
    }
    up.reset();
  });

  test('a fallback declared {model, open_to_all: true} serves every caller of the primary', async () => {
    up.standing('acl-open-primary', fails);
    const before = counts('acl-open-primary', 'acl-open');
    const answer = await chat(gw, APP_KEY, 'acl-open-primary');
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(answer.servedBy, 'acl-open');
    assert.equal(answer.headers.get('x-gateway-fallback-alias'), 'acl-open');
    assert.deepEqual(delta(before, 'acl-open-primary', 'acl-open'), [2, 1]);
    // open_to_all opens the fallback, not the alias itself.
    const direct = await chat(gw, APP_KEY, 'acl-open');
    assert.equal(direct.status, 403);
    assert.equal(direct.body.error.code, 'model_not_allowed');
    up.reset();
  });
});

describe('fallback drill: x-gateway-drill-block', () => {
  const drill = (key: string, block: string) => chat(gw, key, 'drill', { 'x-gateway-drill-block': block });

  test('an admin blocks a deployment for one request; x-gateway-route shows it blocked and what served', async () => {
    const plain = await chat(gw, MASTER_KEY, 'drill');
    assert.equal(plain.servedBy, 'drill-a', 'ordered: drill-a first when nothing is blocked');
    assert.equal(plain.headers.get('x-gateway-route'), null, 'no route header outside a drill');
    for (const key of [MASTER_KEY, OPS_KEY]) {
      const before = counts('drill-a', 'drill-b');
      const answer = await drill(key, 'dep-drill-a');
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      assert.equal(answer.servedBy, 'drill-b');
      assert.deepEqual(delta(before, 'drill-a', 'drill-b'), [0, 1]);
      const route = answer.headers.get('x-gateway-route') ?? '';
      assert.match(route, /(^|, )dep-drill-a:blocked(,|$)/, route);
      assert.match(route, /drill\/dep-drill-b:ok/, route);
      assert.equal(answer.headers.get('x-gateway-deployment'), 'dep-drill-b');
    }
    // The block lasts one request.
    assert.equal((await chat(gw, MASTER_KEY, 'drill')).servedBy, 'drill-a');
  });

  test('blocking every deployment of the alias drills its fallback', async () => {
    const before = counts('drill-a', 'drill-b', 'spare');
    const answer = await drill(MASTER_KEY, 'dep-drill-a, dep-drill-b');
    assert.equal(answer.servedBy, 'spare');
    assert.deepEqual(delta(before, 'drill-a', 'drill-b', 'spare'), [0, 0, 1]);
    const route = answer.headers.get('x-gateway-route') ?? '';
    assert.match(route, /dep-drill-a:blocked/, route);
    assert.match(route, /dep-drill-b:blocked/, route);
    assert.match(route, /spare\/dep-spare:ok/, route);
    assert.equal(answer.headers.get('x-gateway-fallback-alias'), 'spare');
  });

  test('a non-admin virtual key gets 403 admin_required and nothing is sent upstream', async () => {
    const before = counts('drill-a', 'drill-b');
    const answer = await drill(APP_KEY, 'dep-drill-a');
    assert.equal(answer.status, 403);
    assert.equal(answer.body.error.code, 'admin_required');
    assert.deepEqual(delta(before, 'drill-a', 'drill-b'), [0, 0]);
    // Without the header the same key is served normally.
    assert.equal((await chat(gw, APP_KEY, 'drill')).servedBy, 'drill-a');
  });
});
