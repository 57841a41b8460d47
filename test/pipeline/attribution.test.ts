import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GatewayError } from '../../src/errors/gateway-error.ts';
import { attributeBody, attributeHeaders, hashUserId } from '../../src/pipeline/attribution.ts';
import { ClientWatchSlot, createRequestContext, type RequestContext } from '../../src/pipeline/request-context.ts';

const SALT = 'test-salt';
const context = (): RequestContext => createRequestContext({}, 0, new ClientWatchSlot());

test('headers: tenant, feature, hashed user and tags', () => {
  const ctx = context();
  attributeHeaders(ctx, { 'x-tenant-id': 'acme', 'x-feature-id': 'support-bot', 'x-user-id': 'alice@example.com', 'x-gateway-tags': 'workflow:refund, review-42' }, SALT);
  assert.equal(ctx.tenantId, 'acme');
  assert.equal(ctx.featureId, 'support-bot');
  assert.equal(ctx.userHash, hashUserId('alice@example.com', SALT));
  assert.doesNotMatch(ctx.userHash!, /alice/);
  assert.equal(ctx.userHash!.length, 32);
  assert.deepEqual(ctx.tags, ['workflow:refund', 'review-42']);
});

test('the user hash depends on the salt', () => {
  assert.notEqual(hashUserId('bob', 'a'), hashUserId('bob', 'b'));
});

test('malformed headers are 400s naming the header, never ignored', () => {
  const cases: Array<[string, string, string]> = [
    ['x-tenant-id', 'acme corp', 'X-Tenant-Id'],
    ['x-tenant-id', "a'; drop table tenants; --", 'X-Tenant-Id'],
    ['x-feature-id', '', 'X-Feature-Id'],
    ['x-user-id', 'x'.repeat(300), 'X-User-Id'],
    ['x-gateway-tags', 'good, bad tag', 'X-Gateway-Tags'],
  ];
  for (const [name, value, param] of cases) {
    assert.throws(() => attributeHeaders(context(), { [name]: value }, SALT), (err: unknown) => {
      assert.ok(err instanceof GatewayError);
      assert.equal(err.code, 'invalid_request');
      assert.equal(err.param, param);
      return true;
    }, `${name}: ${value}`);
  }
});

test('body: OpenAI user and Anthropic metadata.user_id are hashed; X-User-Id wins', () => {
  const a = context();
  attributeBody(a, { user: 'u-1' }, SALT);
  assert.equal(a.userHash, hashUserId('u-1', SALT));
  const b = context();
  attributeBody(b, { metadata: { user_id: 'u-2' } }, SALT);
  assert.equal(b.userHash, hashUserId('u-2', SALT));
  const c = context();
  attributeHeaders(c, { 'x-user-id': 'from-header' }, SALT);
  attributeBody(c, { user: 'from-body' }, SALT);
  assert.equal(c.userHash, hashUserId('from-header', SALT));
});

test('body: metadata.tags are merged with header tags and removed from the forwarded body', () => {
  const ctx = context();
  attributeHeaders(ctx, { 'x-gateway-tags': 'a,b' }, SALT);
  const body: Record<string, unknown> = { model: 'm', metadata: { tags: ['b', 'c'], trace: 'keep' } };
  assert.equal(attributeBody(ctx, body, SALT), true);
  assert.deepEqual(ctx.tags, ['a', 'b', 'c']);
  assert.deepEqual(body.metadata, { trace: 'keep' });
  const only: Record<string, unknown> = { metadata: { tags: ['x'] } };
  attributeBody(context(), only, SALT);
  assert.equal('metadata' in only, false);
  assert.equal(attributeBody(context(), { metadata: { user_id: 'u' } }, SALT), false, 'untouched body');
  assert.throws(() => attributeBody(context(), { metadata: { tags: 'not-a-list' } }, SALT), /metadata.tags/);
});
