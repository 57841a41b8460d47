// Budgets are a hard ceiling under concurrency, on both counter backends (memory and the
// machine's real Redis): 200 calls at once against a budget worth 50 settle to exactly the
// budget, every refusal is budget_exceeded, and a budget period resets at its boundary on an
// injected clock.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { adminRequest } from '../helpers/admin-request.ts';
import { fakeAliasesYaml, startFakeOpenAIUpstream } from '../helpers/fake-openai-upstream.ts';
import { openTestRedis, type TestRedis } from '../helpers/test-redis.ts';
import { startTestGateway, type TestGateway } from '../helpers/test-gateway.ts';

const MASTER_KEY = 'sk-master-budget-race-0001';
// Output is $1 per million tokens and input is free, and the simulator always answers with
// exactly max_tokens tokens: every call costs exactly its worst case, 100 µ$.
const MODELS = `
models:
  sim:
    deployments:
      - { provider: simulator, model: sim-race, simulator: { output_tokens: 100, latency_ms: 5 }, input_cost_per_token: 0, output_cost_per_token: 0.000001 }
`;
const WORST_CASE_MICRO = 100;

let redis: TestRedis;
before(async () => {
  redis = await openTestRedis('the Redis budget tests');
});
after(async () => {
  await redis?.cleanup();
});

interface Backend {
  name: string;
  yaml(): string;
}

const BACKENDS: Backend[] = [
  { name: 'memory', yaml: () => '' },
  { name: 'redis', yaml: () => `redis: { url: "${redis.url}", key_prefix: "${redis.prefix()}" }\n` },
];

async function chat(gw: TestGateway, key: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${gw.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'sim', messages: [{ role: 'user', content: 'race' }], max_tokens: 100 }),
  });
  return { status: res.status, body: await res.json() };
}

async function settled(gw: TestGateway, path: string): Promise<Record<string, any>> {
  const deadline = performance.now() + 3_000;
  for (;;) {
    const report = await adminRequest(gw.url, MASTER_KEY, 'GET', path);
    const usd = report.json.budgets.find((b: { budget: string }) => b.budget === 'usd');
    if (usd.reserved === 0 || performance.now() > deadline) return usd;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

for (const backend of BACKENDS) {
  describe(`budgets on the ${backend.name} backend`, () => {
    test('200 concurrent calls against a budget worth 50: exactly 50 pass, the rest are budget_exceeded, spend = budget', async (t) => {
      if (backend.name === 'redis' && redis.unreachable) return t.skip(redis.unreachable);
      const gw = await startTestGateway(`general_settings: { master_key: ${MASTER_KEY} }\n${backend.yaml()}${MODELS}`);
      try {
        const admin = (method: string, path: string, body?: unknown) => adminRequest(gw.url, MASTER_KEY, method, path, body);
        assert.equal((await admin('POST', '/admin/teams', { team_id: 'racers', max_budget: (50 * WORST_CASE_MICRO) / 1e6, budget_duration: '1mo' })).status, 201);
        const { key } = (await admin('POST', '/admin/keys', { team_id: 'racers' })).json;
        const results = await Promise.all(Array.from({ length: 200 }, () => chat(gw, key)));
        const ok = results.filter((r) => r.status === 200);
        const refused = results.filter((r) => r.status !== 200);
        assert.ok(refused.every((r) => r.status === 429 && r.body.error.code === 'budget_exceeded'), JSON.stringify(refused.find((r) => r.body.error?.code !== 'budget_exceeded')));
        const spent = ok.reduce((sum, r) => sum + r.body.usage.completion_tokens, 0);
        const usd = await settled(gw, '/admin/teams/racers/spend');
        assert.equal(Math.round(usd.spent * 1e6), spent, 'settled spend is the sum of what the calls cost');
        assert.ok(spent <= 50 * WORST_CASE_MICRO + WORST_CASE_MICRO, `spend ${spent} µ$ over the budget`);
        assert.equal(ok.length, 50, 'each call costs its worst case, so exactly 50 fit');
        assert.equal(usd.reserved, 0, 'no reservation leaked');
        assert.equal(usd.remaining, 0);
      } finally {
        await gw.shutdown();
      }
    });

    test('no leaked reservation after an upstream 500, an upstream timeout or a client that disconnects mid-stream', async (t) => {
      if (backend.name === 'redis' && redis.unreachable) return t.skip(redis.unreachable);
      const upstream = await startFakeOpenAIUpstream();
      const prices = 'input_cost_per_token: 0.000001\noutput_cost_per_token: 0.000002';
      const gw = await startTestGateway(`general_settings: { master_key: ${MASTER_KEY} }\n${backend.yaml()}models:\n${fakeAliasesYaml(upstream.baseURL, 'sk-up-leak', ['server-error', 'hang', 'hang-stream'], { 'server-error': prices, hang: `${prices}\ntimeout_ms: 300`, 'hang-stream': prices })}`);
      try {
        const admin = (method: string, path: string, body?: unknown) => adminRequest(gw.url, MASTER_KEY, method, path, body);
        await admin('POST', '/admin/teams', { team_id: 'leaky', max_budget: 1, max_parallel_requests: 1 });
        const { key } = (await admin('POST', '/admin/keys', { team_id: 'leaky' })).json;
        const call = (model: string, extra: Record<string, unknown> = {}, signal?: AbortSignal) => fetch(`${gw.baseURL}/chat/completions`, {
          method: 'POST', signal,
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }], max_tokens: 50, ...extra }),
        });
        assert.equal((await call('up-server-error')).status, 502);
        assert.equal((await call('up-hang')).status, 504);
        let usd = await settled(gw, '/admin/teams/leaky/spend');
        assert.deepEqual([usd.spent, usd.reserved], [0, 0], 'failed calls cost nothing and hold nothing');
        const controller = new AbortController();
        const streaming = await call('up-hang-stream', { stream: true }, controller.signal);
        const reader = streaming.body!.getReader();
        await reader.read();
        controller.abort();
        await reader.read().catch(() => undefined);
        usd = await settled(gw, '/admin/teams/leaky/spend');
        assert.equal(usd.reserved, 0, 'the disconnected stream released its reservation');
        assert.ok(usd.spent > 0 && usd.spent < 0.0001, `charged its estimated input only: ${usd.spent}`);
        // The concurrency lease came back too: with max_parallel_requests 1 the next call runs.
        assert.equal((await call('up-server-error')).status, 502);
      } finally {
        await gw.shutdown();
        await upstream.close();
      }
    });

    test('a daily budget resets at the UTC day boundary (injected clock); a lifetime one does not', async (t) => {
      if (backend.name === 'redis' && redis.unreachable) return t.skip(redis.unreachable);
      let clock = Date.UTC(2026, 11, 1, 23, 58, 0);
      const gw = await startTestGateway(`general_settings: { master_key: ${MASTER_KEY} }\n${backend.yaml()}${MODELS}`, {}, { now: () => clock });
      try {
        const admin = (method: string, path: string, body?: unknown) => adminRequest(gw.url, MASTER_KEY, method, path, body);
        await admin('POST', '/admin/teams', { team_id: 'daily', max_budget: (2 * WORST_CASE_MICRO) / 1e6, budget_duration: '1d' });
        await admin('POST', '/admin/teams', { team_id: 'lifetime', max_budget: (2 * WORST_CASE_MICRO) / 1e6 });
        const daily = (await admin('POST', '/admin/keys', { team_id: 'daily' })).json.key;
        const lifetime = (await admin('POST', '/admin/keys', { team_id: 'lifetime' })).json.key;
        for (const key of [daily, lifetime]) {
          assert.equal((await chat(gw, key)).status, 200);
          assert.equal((await chat(gw, key)).status, 200);
          const refused = await chat(gw, key);
          assert.equal(refused.body.error.code, 'budget_exceeded');
        }
        const before = await chat(gw, daily);
        assert.equal(before.body.error.limit.reset_at, '2026-12-02T00:00:00.000Z');
        clock = Date.UTC(2026, 11, 2, 0, 0, 1);
        assert.equal((await chat(gw, daily)).status, 200, 'a new day, a new budget');
        const still = await chat(gw, lifetime);
        assert.equal(still.body.error.code, 'budget_exceeded');
        assert.equal(still.body.error.limit.reset_at, undefined, 'a lifetime budget never resets');
        assert.match(still.body.error.message, /does not reset/);
        const usd = await settled(gw, '/admin/teams/daily/spend');
        assert.equal(usd.period_starts_at, '2026-12-02T00:00:00.000Z');
        assert.equal(Math.round(usd.spent * 1e6), WORST_CASE_MICRO);
      } finally {
        await gw.shutdown();
      }
    });
  });
}
