// A key created through the API for a team declared in the config file outlives that team when
// the config changes. The team's policy can no longer be applied, so the key is refused.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { adminRequest } from '../helpers/admin-request.ts';
import { startTestGateway } from '../helpers/test-gateway.ts';

const MASTER_KEY = 'sk-master-orphan-keys-e2e-0001';
const dir = mkdtempSync(path.join(os.tmpdir(), 'tg-orphan-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const yaml = (teams: string) => `
general_settings: { master_key: ${MASTER_KEY} }
database: { url: "sqlite:${path.join(dir, 'gw.db')}" }
models:
  chat: { deployments: [{ provider: simulator, model: sim }] }
${teams}
`;

const call = (url: string, key: string, route: string, body?: unknown) => adminRequest(url, key, body ? 'POST' : 'GET', route, body);

test('a key whose config-declared team was removed is refused with a message naming the team', async () => {
  const first = await startTestGateway(yaml('teams:\n  search: { models: [chat] }'));
  const created = await call(first.url, MASTER_KEY, '/admin/keys', { team_id: 'search' });
  assert.equal(created.status, 201);
  const secret = created.json.key as string;
  assert.equal((await call(first.url, secret, '/v1/models')).status, 200);
  await first.shutdown();

  const second = await startTestGateway(yaml(''));
  try {
    const refused = await call(second.url, secret, '/v1/models');
    assert.equal(refused.status, 401);
    assert.equal(refused.json.error.code, 'invalid_api_key');
    assert.match(refused.json.error.message, /team "search" no longer exists/);
  } finally {
    await second.shutdown();
  }
});
