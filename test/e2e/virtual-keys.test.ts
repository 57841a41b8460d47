// Virtual keys end to end, as a platform team would use them: an admin creates a team and keys
// through the admin API, applications call with the official SDKs, and the gateway enforces
// the key's state, its model ACL and its tenant binding. Secrets never reach the logs.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { startTestGateway, type TestGateway } from '../helpers/test-gateway.ts';
import { adminRequest } from '../helpers/admin-request.ts';

const MASTER_KEY = 'sk-master-virtual-keys-e2e-01';
const DECLARED_SECRET = 'sk-tg-declared-ci-bot-secret-0123456789abcdefghij';

const YAML = `
general_settings:
  master_key: ${MASTER_KEY}
models:
  chat-a: { deployments: [{ provider: simulator, model: sim-a }] }
  chat-b: { deployments: [{ provider: simulator, model: sim-b }] }
  other: { deployments: [{ provider: simulator, model: sim-o }] }
  switched-off:
    requires_env: SOME_UNSET_VARIABLE
    deployments: [{ provider: simulator, model: sim-x }]
teams:
  platform:
    team_alias: Platform
    models: [chat-a]
tenants:
  acme: { name: Acme, plan: pro, models: [chat-a, chat-b] }
  globex: { name: Globex, models: [chat-b] }
keys:
  ci-bot:
    key: os.environ/CI_BOT_KEY
    team_id: platform
`;

let gw: TestGateway;
const secrets: string[] = [];

const admin = (method: string, path: string, body?: unknown, key = MASTER_KEY) => adminRequest(gw.url, key, method, path, body);

async function newKey(fields: Record<string, unknown>): Promise<{ key_id: string; key: string }> {
  const created = await admin('POST', '/admin/keys', fields);
  assert.equal(created.status, 201, JSON.stringify(created.json));
  secrets.push(created.json.key);
  return created.json;
}

function client(key: string, headers: Record<string, string> = {}): OpenAI {
  return new OpenAI({ baseURL: gw.baseURL, apiKey: key, maxRetries: 0, defaultHeaders: headers });
}

async function chat(key: string, model: string, headers: Record<string, string> = {}) {
  return client(key, headers).chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }], max_tokens: 5 });
}

async function failure(promise: Promise<unknown>): Promise<{ status: number; code: string }> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof OpenAI.APIError) return { status: err.status!, code: String(err.code) };
    throw err;
  }
  assert.fail('expected the call to fail');
}

before(async () => {
  gw = await startTestGateway(YAML, { CI_BOT_KEY: DECLARED_SECRET });
  const team = await admin('POST', '/admin/teams', { team_id: 'payments', team_alias: 'Payments', models: ['chat-*'] });
  assert.equal(team.status, 201, JSON.stringify(team.json));
  const strict = await admin('POST', '/admin/teams', { team_id: 'paid-plan', require_tenant: true });
  assert.equal(strict.status, 201);
});

after(async () => {
  await gw?.shutdown();
});

describe('virtual keys', () => {
  test('a new key calls its allowed models with the OpenAI SDK; others get 403 model_not_allowed', async () => {
    const { key, key_id } = await newKey({ team_id: 'payments', key_alias: 'checkout-prod', environment: 'production', models: ['chat-a'] });
    assert.match(key, /^sk-tg-[A-Za-z0-9_-]{43}$/);
    const completion = await chat(key, 'chat-a');
    assert.equal(completion.object, 'chat.completion');
    assert.deepEqual(await failure(chat(key, 'chat-b')), { status: 403, code: 'model_not_allowed' });
    assert.deepEqual(await failure(chat(key, 'other')), { status: 403, code: 'model_not_allowed' });
    const models = await client(key).models.list();
    assert.deepEqual(models.data.map((m) => m.id), ['chat-a']);
    const typo = await chat(key, 'chat-bb').catch((err: InstanceType<typeof OpenAI.APIError>) => err);
    assert.equal((typo as InstanceType<typeof OpenAI.APIError>).status, 404);
    assert.doesNotMatch(String((typo as Error).message), /chat-b"/, 'the did-you-mean names no alias the key may not use');
    const off = await failure(chat(key, 'switched-off'));
    assert.deepEqual(off, { status: 403, code: 'model_not_allowed' }, 'why an alias is off is not told to a key that may not use it');
    assert.deepEqual(await failure(chat(MASTER_KEY, 'switched-off')), { status: 404, code: 'model_not_found' });
    const info = await admin('GET', `/admin/keys/${key_id}`);
    assert.equal(info.json.key_alias, 'checkout-prod');
    assert.equal('key' in info.json, false, 'the secret is shown only once');
  });

  test('the team ACL applies to keys without their own list', async () => {
    const { key } = await newKey({ team_id: 'payments' });
    await chat(key, 'chat-b');
    assert.deepEqual(await failure(chat(key, 'other')), { status: 403, code: 'model_not_allowed' });
    const models = await client(key).models.list();
    assert.deepEqual(models.data.map((m) => m.id).sort(), ['chat-a', 'chat-b']);
  });

  test('a team with keys cannot be deleted', async () => {
    assert.equal((await admin('POST', '/admin/teams', { team_id: 'short-lived' })).status, 201);
    const { key_id } = await newKey({ team_id: 'short-lived' });
    const refused = await admin('DELETE', '/admin/teams/short-lived');
    assert.equal(refused.status, 409);
    assert.equal(refused.json.error.code, 'resource_conflict');
    assert.equal((await admin('DELETE', `/admin/keys/${key_id}`)).status, 200);
    assert.equal((await admin('DELETE', '/admin/teams/short-lived')).status, 200);
  });

  test('huge or junk keys are refused without a lookup', async () => {
    for (const junk of ['x'.repeat(10_000), 'sk-tg-short', 'é'.repeat(40)]) {
      const res = await fetch(`${gw.baseURL}/models`, { headers: { authorization: `Bearer ${junk}` } });
      assert.equal(res.status, 401);
    }
    assert.equal(gw.gateway.identity.directory.stats().unknown <= 1, true, 'junk is not remembered');
  });

  test('unknown and malformed keys get 401 without revealing anything', async () => {
    assert.deepEqual(await failure(chat('sk-tg-' + 'x'.repeat(43), 'chat-a')), { status: 401, code: 'invalid_api_key' });
    assert.deepEqual(await failure(chat('not-a-key', 'chat-a')), { status: 401, code: 'invalid_api_key' });
    const res = await fetch(`${gw.baseURL}/models`, { headers: { authorization: 'Token abc' } });
    assert.equal(res.status, 401);
    assert.equal((await res.json() as any).error.code, 'missing_api_key');
  });

  test('revocation takes effect on the next request', async () => {
    const { key, key_id } = await newKey({ team_id: 'payments' });
    await chat(key, 'chat-a');
    const revoked = await admin('POST', `/admin/keys/${key_id}/revoke`);
    assert.equal(revoked.status, 200);
    assert.equal(revoked.json.status, 'revoked');
    assert.deepEqual(await failure(chat(key, 'chat-a')), { status: 401, code: 'key_revoked' });
    assert.equal((await admin('POST', `/admin/keys/${key_id}/unblock`)).status, 409, 'revocation is final');
  });

  test('block and unblock', async () => {
    const { key, key_id } = await newKey({ team_id: 'payments' });
    await admin('POST', `/admin/keys/${key_id}/block`);
    assert.deepEqual(await failure(chat(key, 'chat-a')), { status: 401, code: 'key_blocked' });
    await admin('POST', `/admin/keys/${key_id}/unblock`);
    await chat(key, 'chat-a');
  });

  test('rotation: both secrets work during the grace period; with no grace the old one stops at once', async () => {
    const { key: first, key_id } = await newKey({ team_id: 'payments' });
    await chat(first, 'chat-a');
    const rotated = await admin('POST', `/admin/keys/${key_id}/rotate`, { grace_period: '1h' });
    assert.equal(rotated.status, 200, JSON.stringify(rotated.json));
    const second = rotated.json.key as string;
    secrets.push(second);
    assert.notEqual(second, first);
    await chat(first, 'chat-a');
    await chat(second, 'chat-a');
    const again = await admin('POST', `/admin/keys/${key_id}/rotate`, { grace_period: '0s' });
    secrets.push(again.json.key);
    for (const old of [first, second]) {
      const { status, code } = await failure(chat(old, 'chat-a'));
      assert.equal(status, 401);
      assert.ok(code === 'key_expired' || code === 'invalid_api_key', code);
    }
    await chat(again.json.key, 'chat-a');
  });

  test('an expired key gets key_expired', async () => {
    const { key } = await newKey({ team_id: 'payments', duration: '1s' });
    await chat(key, 'chat-a');
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    assert.deepEqual(await failure(chat(key, 'chat-a')), { status: 401, code: 'key_expired' });
  });
});

describe('tenants', () => {
  test('a key bound to a tenant acts for it, and may not act for another', async () => {
    const { key } = await newKey({ team_id: 'payments', tenant_id: 'acme' });
    const res = await client(key).chat.completions.create({ model: 'chat-a', messages: [{ role: 'user', content: 'hi' }] }).withResponse();
    const line = await gw.accessLog(res.response.headers.get('x-request-id')!);
    assert.equal(line.tenant_id, 'acme');
    assert.deepEqual(await failure(chat(key, 'chat-a', { 'X-Tenant-Id': 'globex' })), { status: 403, code: 'tenant_not_allowed' });
  });

  test('a key allowed a set of tenants must stay inside it', async () => {
    const { key } = await newKey({ team_id: 'payments', allowed_tenants: ['acme', 'globex'] });
    await chat(key, 'chat-b', { 'X-Tenant-Id': 'globex' });
    assert.deepEqual(await failure(chat(key, 'chat-b', { 'X-Tenant-Id': 'initech' })), { status: 403, code: 'tenant_not_allowed' });
  });

  test('require_tenant: calls without X-Tenant-Id get 401 tenant_required', async () => {
    const { key } = await newKey({ team_id: 'paid-plan' });
    assert.deepEqual(await failure(chat(key, 'chat-a')), { status: 401, code: 'tenant_required' });
    await chat(key, 'chat-a', { 'X-Tenant-Id': 'acme' });
  });

  test("the tenant's model list applies to every caller, the master key included", async () => {
    assert.deepEqual(await failure(chat(MASTER_KEY, 'chat-a', { 'X-Tenant-Id': 'globex' })), { status: 403, code: 'model_not_allowed' });
    await chat(MASTER_KEY, 'chat-b', { 'X-Tenant-Id': 'globex' });
    const models = await client(MASTER_KEY, { 'X-Tenant-Id': 'globex' }).models.list();
    assert.deepEqual(models.data.map((m) => m.id), ['chat-b']);
  });

  test('a tenant created at run time applies at once', async () => {
    assert.equal((await admin('POST', '/admin/tenants', { tenant_id: 'initech', models: ['other'] })).status, 201);
    assert.deepEqual(await failure(chat(MASTER_KEY, 'chat-a', { 'X-Tenant-Id': 'initech' })), { status: 403, code: 'model_not_allowed' });
    await admin('PATCH', '/admin/tenants/initech', { models: ['chat-a'] });
    await chat(MASTER_KEY, 'chat-a', { 'X-Tenant-Id': 'initech' });
  });

  test('a malformed X-Tenant-Id is a 400 naming the header', async () => {
    const { status, code } = await failure(chat(MASTER_KEY, 'chat-a', { 'X-Tenant-Id': 'acme corp' }));
    assert.deepEqual({ status, code }, { status: 400, code: 'invalid_request' });
  });
});

describe('request context', () => {
  test('key, team, tenant, feature, hashed user and tags reach the access log', async () => {
    const { key, key_id } = await newKey({ team_id: 'payments', tenant_id: 'acme' });
    const res = await client(key, { 'X-Feature-Id': 'refund-bot', 'X-Gateway-Tags': 'workflow:refund' }).chat.completions
      .create({ model: 'chat-a', messages: [{ role: 'user', content: 'hi' }], user: 'alice@example.com', metadata: { tags: ['review-7'] } as any })
      .withResponse();
    const line = await gw.accessLog(res.response.headers.get('x-request-id')!);
    assert.equal(line.key_id, key_id);
    assert.equal(line.team_id, 'payments');
    assert.equal(line.tenant_id, 'acme');
    assert.equal(line.feature_id, 'refund-bot');
    assert.match(line.user_id_hash, /^[0-9a-f]{32}$/);
    assert.deepEqual(line.tags, ['workflow:refund', 'review-7']);
    assert.doesNotMatch(gw.logText(), /alice@example\.com/);
  });
});

describe('keys declared in config', () => {
  test('work from their environment secret and are read-only through the API', async () => {
    await chat(DECLARED_SECRET, 'chat-a');
    assert.deepEqual(await failure(chat(DECLARED_SECRET, 'chat-b')), { status: 403, code: 'model_not_allowed' });
    const info = await admin('GET', '/admin/keys/ci-bot');
    assert.equal(info.json.source, 'config');
    const patch = await admin('PATCH', '/admin/keys/ci-bot', { models: ['*'] });
    assert.equal(patch.status, 409);
    assert.equal(patch.json.error.code, 'managed_by_config');
    assert.equal((await admin('POST', '/admin/keys/ci-bot/revoke')).json.error.code, 'managed_by_config');
  });
});

describe('admin access', () => {
  test('user keys get 403 admin_required; admin-role keys may administer', async () => {
    const { key: user } = await newKey({ team_id: 'payments' });
    const denied = await admin('GET', '/admin/teams', undefined, user);
    assert.equal(denied.status, 403);
    assert.equal(denied.json.error.code, 'admin_required');
    const { key: adminKey, key_id } = await newKey({ team_id: 'payments', role: 'admin' });
    const teams = await admin('GET', '/admin/teams', undefined, adminKey);
    assert.equal(teams.status, 200);
    const created = await admin('POST', '/admin/teams', { team_id: 'by-admin-key' }, adminKey);
    assert.equal(created.status, 201);
    const audit = await admin('GET', '/admin/audit?object_id=by-admin-key');
    assert.equal(audit.json.data[0].actor, `key:${key_id}`);
  });

  test('an admin-role key of a require_tenant team may still use the admin API (tenants do not apply there)', async () => {
    const { key } = await newKey({ team_id: 'paid-plan', role: 'admin' });
    assert.equal((await admin('GET', '/admin/teams', undefined, key)).status, 200);
    assert.deepEqual(await failure(chat(key, 'chat-a')), { status: 401, code: 'tenant_required' });
  });

  test('the Anthropic SDK authenticates with a virtual key as x-api-key', async () => {
    const { key } = await newKey({ team_id: 'payments' });
    const anthropic = new Anthropic({ baseURL: gw.url, apiKey: key, maxRetries: 0 });
    const message = await anthropic.messages.create({ model: 'chat-a', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(message.type, 'message');
    await assert.rejects(anthropic.messages.create({ model: 'other', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] }), (err: unknown) => {
      assert.ok(err instanceof Anthropic.PermissionDeniedError);
      return true;
    });
  });
});

test('no secret ever appears in the logs or the audit log', async () => {
  assert.ok(secrets.length >= 10);
  const audit = JSON.stringify((await admin('GET', '/admin/audit?limit=1000')).json);
  const logs = gw.logText();
  for (const secret of [...secrets, DECLARED_SECRET, MASTER_KEY]) {
    assert.equal(logs.includes(secret), false, 'a secret is in the logs');
    assert.equal(audit.includes(secret), false, 'a secret is in the audit log');
  }
});
