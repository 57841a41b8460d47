// The cost ledger end to end, the edges of attribution: a client that leaves mid-stream is still
// recorded (client_gone, estimated usage), a known but revoked key is recorded as auth_failed
// under its key id while an unknown key leaves no row, and prompt logging stores (redacted) the
// prompts of the tenants listed in ledger.prompt_logging and nobody else's.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { adminRequest } from '../helpers/admin-request.ts';
import { startFaultUpstream, type FaultUpstream } from '../helpers/fault-upstream.ts';
import { startTestGateway, type TestGateway } from '../helpers/test-gateway.ts';
import { allEvents, eventually, sleep, waitForEvent } from './ledger-helpers.ts';

const MASTER_KEY = 'sk-master-ledger-attribution-0001';
const UPSTREAM_KEY = 'sk-upstream-ledger-attribution-01';

let upstream: FaultUpstream;
let gw: TestGateway;

before(async () => {
  upstream = await startFaultUpstream();
  gw = await startTestGateway(`
router: { num_retries: 0, disable_cooldowns: true }
general_settings:
  master_key: ${MASTER_KEY}
teams:
  ledger-team: {}
tenants:
  acme: { name: Acme }
  globex: { name: Globex }
ledger:
  prompt_logging: { tenants: [acme] }
models:
  chat:
    deployments:
      - id: fault-chat
        provider: openai_compatible
        model: chat
        api_base: ${upstream.baseURL}
        api_key: ${UPSTREAM_KEY}
        input_cost_per_token: 0.000001
        output_cost_per_token: 0.000002
  slow:
    deployments:
      - id: fault-slow
        provider: openai_compatible
        model: slow
        api_base: ${upstream.baseURL}
        api_key: ${UPSTREAM_KEY}
        input_cost_per_token: 0.000001
        output_cost_per_token: 0.000002
`);
});

after(async () => {
  await gw?.shutdown();
  await upstream?.close();
});

const admin = (method: string, path: string, body?: unknown) => adminRequest(gw.url, MASTER_KEY, method, path, body);
const client = (key = MASTER_KEY, headers: Record<string, string> = {}) => new OpenAI({ baseURL: gw.baseURL, apiKey: key, maxRetries: 0, timeout: 10_000, defaultHeaders: headers });

describe('ledger attribution', () => {
  test('a client that disconnects mid-stream still produces a row: client_gone, estimated usage', async () => {
    // Chunks 150 ms apart: the client reads the first content and leaves long before the end.
    upstream.script('slow', { kind: 'ok', chunkDelayMs: 150 });
    const stream = await client().chat.completions.create(
      { model: 'slow', messages: [{ role: 'user', content: 'tell me a long story about ledgers and tolls' }], stream: true },
      { headers: { 'X-Request-Id': 'ledger-gone-1' } },
    );
    let seen = '';
    for await (const chunk of stream) {
      seen += chunk.choices[0]?.delta?.content ?? '';
      if (seen.length > 0) break; // breaking out of the iterator aborts the request
    }
    assert.equal(seen, 'served');
    const event = await waitForEvent(gw.url, MASTER_KEY, 'ledger-gone-1');
    assert.equal(event.outcome.status, 'client_gone', JSON.stringify(event.outcome));
    assert.equal(event.stream, true);
    assert.equal(event.usage.estimated, true, JSON.stringify(event.usage));
    assert.ok(event.usage.input > 0, `estimated input tokens: ${JSON.stringify(event.usage)}`);
    assert.equal(event.usage.total, event.usage.input + event.usage.output);
    assert.equal(event.deployment_id, 'fault-slow');
    // Estimated tokens are still priced.
    assert.ok(event.cost_usd.total > 0, JSON.stringify(event.cost_usd));
  });

  test('a known, revoked key is recorded as auth_failed under its key_id; an unknown key leaves no row', async () => {
    const created = await admin('POST', '/admin/keys', { team_id: 'ledger-team', key_alias: 'soon-revoked' });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    assert.equal((await admin('POST', `/admin/keys/${created.json.key_id}/revoke`)).status, 200);

    const refused = await client(created.json.key).chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }, { headers: { 'X-Request-Id': 'ledger-revoked-1' } })
      .then(() => undefined, (e: unknown) => e);
    assert.ok(refused instanceof OpenAI.APIError && refused.status === 401, String(refused));
    const event = await waitForEvent(gw.url, MASTER_KEY, 'ledger-revoked-1');
    assert.equal(event.outcome.status, 'auth_failed');
    assert.equal(event.outcome.http_status, 401);
    assert.equal(event.key_id, created.json.key_id);
    assert.equal(event.team_id, 'ledger-team');
    assert.equal(event.cost_usd.total, 0);

    const unknown = await client('sk-tg-nobody-issued-this-key-0123456789abcdef').chat.completions
      .create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }, { headers: { 'X-Request-Id': 'ledger-unknown-1' } })
      .then(() => undefined, (e: unknown) => e);
    assert.ok(unknown instanceof OpenAI.APIError && unknown.status === 401, String(unknown));
    // A later call is recorded after it: once that one is there, the unknown key's would be too.
    await client().chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }, { headers: { 'X-Request-Id': 'ledger-after-unknown' } });
    await waitForEvent(gw.url, MASTER_KEY, 'ledger-after-unknown');
    await sleep(250);
    const missing = await admin('GET', '/admin/requests/ledger-unknown-1');
    assert.equal(missing.status, 404, JSON.stringify(missing.json));
    const events = await allEvents(gw.url, MASTER_KEY);
    assert.equal(events.filter((e) => e.request_id === 'ledger-unknown-1').length, 0);
    assert.equal(events.filter((e) => e.outcome.status === 'auth_failed').length, 1);
  });

  test('prompt logging: a listed tenant\'s prompt and completion are stored redacted; another tenant\'s are not; DELETE by request_id removes it', async () => {
    const EMAIL = 'jane.doe@example.com';
    const SECRET = 'sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z';
    const content = `Please email ${EMAIL} the invoice. My key is ${SECRET} if you need it.`;
    await client(MASTER_KEY, { 'x-tenant-id': 'acme' }).chat.completions.create({ model: 'chat', messages: [{ role: 'user', content }] }, { headers: { 'X-Request-Id': 'ledger-prompt-acme' } });
    await client(MASTER_KEY, { 'x-tenant-id': 'globex' }).chat.completions.create({ model: 'chat', messages: [{ role: 'user', content }] }, { headers: { 'X-Request-Id': 'ledger-prompt-globex' } });

    const logged = await eventually('the acme prompt log', async () => {
      const answer = await admin('GET', '/admin/prompts/ledger-prompt-acme');
      return answer.status === 200 ? answer.json : undefined;
    });
    assert.equal(logged.tenant_id, 'acme');
    assert.equal(logged.model_alias, 'chat');
    const promptText = JSON.stringify(logged.prompt);
    assert.ok(!promptText.includes(EMAIL), `the e-mail is redacted: ${promptText}`);
    assert.ok(!promptText.includes(SECRET) && !promptText.includes('Ab3dEf6hIj9k'), `the API key is redacted: ${promptText}`);
    assert.ok(promptText.includes('[EMAIL]') && promptText.includes('[SECRET]'), promptText);
    assert.ok(promptText.includes('the invoice'), `the rest of the prompt is kept: ${promptText}`);
    assert.equal(logged.completion, 'served by chat');

    // globex is not listed: its call is in the ledger, its prompt is not stored.
    await waitForEvent(gw.url, MASTER_KEY, 'ledger-prompt-globex');
    await sleep(250);
    assert.equal((await admin('GET', '/admin/prompts/ledger-prompt-globex')).status, 404);

    const deleted = await admin('DELETE', '/admin/prompts?request_id=ledger-prompt-acme');
    assert.equal(deleted.status, 200, JSON.stringify(deleted.json));
    assert.equal(deleted.json.deleted, 1);
    assert.equal((await admin('GET', '/admin/prompts/ledger-prompt-acme')).status, 404);
    // The ledger event itself stays (only the text is personal data).
    assert.equal((await admin('GET', '/admin/requests/ledger-prompt-acme')).status, 200);
  });
});
