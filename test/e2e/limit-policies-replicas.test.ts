// A global limit set through one replica's admin API applies on another replica sharing the
// database, through the change feed (no Redis here: each replica counts its own calls).

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { adminRequest } from '../helpers/admin-request.ts';
import { startTestGateway, type TestGateway } from '../helpers/test-gateway.ts';

const MASTER_KEY = 'sk-master-limit-policies-01';

async function chatStatus(gw: TestGateway): Promise<number> {
  const res = await fetch(`${gw.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${MASTER_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'sim', messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 }),
  });
  await res.arrayBuffer();
  return res.status;
}

test('a global limit created on replica A is enforced on replica B within its change poll', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-limit-policies-'));
  const yaml = `
general_settings: { master_key: ${MASTER_KEY} }
database: { url: "sqlite:${join(dir, 'shared.db')}" }
auth: { change_poll_ms: 50 }
models:
  sim: { deployments: [{ provider: simulator, model: sim-a }] }
`;
  const a = await startTestGateway(yaml);
  const b = await startTestGateway(yaml);
  try {
    assert.equal(await chatStatus(b), 200);
    const created = await adminRequest(a.url, MASTER_KEY, 'POST', '/admin/limits', { scope: 'global', rpm_limit: 1 });
    assert.equal(created.status, 201);
    const deadline = performance.now() + 3_000;
    let status = 200;
    while (status === 200 && performance.now() < deadline) {
      status = await chatStatus(b);
      if (status === 200) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal(status, 429, 'replica B picked up the policy and refused');
    assert.equal((await adminRequest(b.url, MASTER_KEY, 'GET', '/admin/limits/global')).json.rpm_limit, 1);
  } finally {
    await a.shutdown();
    await b.shutdown();
    rmSync(dir, { recursive: true, force: true });
  }
});
