import assert from 'node:assert/strict';
import { test } from 'node:test';
import { modelAcl } from '../../src/identity/model-acl.ts';

test('an empty list, or "*", allows every alias', () => {
  assert.equal(modelAcl([]).open, true);
  assert.equal(modelAcl(undefined, ['*']).allows('anything'), true);
});

test('exact names and prefix wildcards', () => {
  const acl = modelAcl(['support-chat', 'gpt-4o*']);
  assert.equal(acl.open, false);
  assert.equal(acl.allows('support-chat'), true);
  assert.equal(acl.allows('gpt-4o'), true);
  assert.equal(acl.allows('gpt-4o-mini'), true);
  assert.equal(acl.allows('gpt-4'), false);
  assert.equal(acl.allows('support-chat-2'), false);
});

test('several lists intersect: key and team must both allow', () => {
  const acl = modelAcl(['gpt-4o*', 'claude-sonnet'], ['gpt-4o-mini', 'claude-sonnet', 'embed']);
  assert.equal(acl.allows('gpt-4o-mini'), true);
  assert.equal(acl.allows('claude-sonnet'), true);
  assert.equal(acl.allows('gpt-4o'), false, 'team does not list it');
  assert.equal(acl.allows('embed'), false, 'key does not list it');
  // memoised answers stay right
  assert.equal(acl.allows('gpt-4o'), false);
  assert.equal(acl.allows('gpt-4o-mini'), true);
});
