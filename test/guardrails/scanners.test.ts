// The external scanner adapters against fake servers that speak each API (test/helpers/
// fake-guard-scanners.ts): the request each sends, the verdicts and findings each maps, a wrong
// key, the factory and the config schema. Failures: scanner-faults.test.ts.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { scannerSchema, scannersSchema } from '../../src/guardrails/scanner-schema.ts';
import { LakeraScanner } from '../../src/guardrails/scanners/lakera-scanner.ts';
import { LlmGuardScanner } from '../../src/guardrails/scanners/llm-guard-scanner.ts';
import { openScanner } from '../../src/guardrails/scanners/open-scanner.ts';
import { WebhookScanner } from '../../src/guardrails/scanners/webhook-scanner.ts';
import {
  ATTACKING, CLEAN, LEAKY_OUTPUT, SCANNER_KEY, rejectsUnavailable, startFakeLakera, startFakeLlmGuard, startFakeWebhook, type FakeScanner,
} from '../helpers/fake-guard-scanners.ts';

describe('webhook scanner', () => {
  let fake: FakeScanner;
  let scanner: WebhookScanner;
  before(async () => {
    fake = await startFakeWebhook();
    scanner = new WebhookScanner({ name: 'acme', url: fake.url, apiKey: SCANNER_KEY, timeoutMs: 2_000 });
  });
  after(async () => {
    await scanner.close();
    await fake.close();
  });

  test('a clean prompt passes; the request carries the schema, the ids and the bearer key', async () => {
    const verdict = await scanner.scan({ ...CLEAN, requestId: 'req-1', tenant: 'acme' });
    assert.deepEqual(verdict, { findings: [], flagged: false });
    const sent = fake.requests.at(-1)!;
    assert.equal(sent.authorization, `Bearer ${SCANNER_KEY}`);
    assert.deepEqual(sent.body, { direction: 'input', messages: [{ role: 'system', text: 'You are terse.' }, { role: 'user', text: 'What is 2+2?' }], request_id: 'req-1', tenant: 'acme' });
    await scanner.scan(CLEAN);
    assert.equal(fake.requests.at(-1)!.body.request_id, null, 'absent ids are null');
  });

  test('"block" is flagged and asks for a block; findings keep their message and kind', async () => {
    const verdict = await scanner.scan(ATTACKING);
    assert.equal(verdict.flagged, true);
    assert.equal(verdict.block, true);
    assert.deepEqual(verdict.findings, [{
      detector: 'acme.override', kind: 'injection', type: 'OVERRIDE', score: 0.97, reason: 'asks the model to drop its instructions', start: 0, end: 0, messageIndex: 1,
    }]);
  });

  test('"flag" maps spans in the message they are in', async () => {
    const verdict = await scanner.scan(LEAKY_OUTPUT);
    assert.equal(verdict.flagged, true);
    assert.equal(verdict.block, undefined);
    const [email] = verdict.findings;
    assert.equal(email!.kind, 'pii', 'pii.* is PII');
    assert.equal(email!.messageIndex, 1);
    assert.equal(LEAKY_OUTPUT.messages[1]!.text.slice(email!.start, email!.end), 'jane.doe@example.com');
  });

  test('a wrong key is http_401, without the key in the error', async () => {
    const wrong = new WebhookScanner({ name: 'acme', url: fake.url, apiKey: `${SCANNER_KEY}-wrong`, timeoutMs: 2_000 });
    await rejectsUnavailable(wrong.scan(CLEAN), 'http_401');
    await wrong.close();
  });
});

describe('Lakera Guard scanner', () => {
  let fake: FakeScanner;
  let scanner: LakeraScanner;
  before(async () => {
    fake = await startFakeLakera();
    scanner = new LakeraScanner({ name: 'lakera', url: fake.url, apiKey: SCANNER_KEY, timeoutMs: 2_000, projectId: 'project-8541012967' });
  });
  after(async () => {
    await scanner.close();
    await fake.close();
  });

  test('clean content is not flagged; the request is /v2/guard with messages, breakdown, payload and project_id', async () => {
    const verdict = await scanner.scan({ direction: 'input', messages: [...CLEAN.messages, { role: 'tool', text: '{"temp": 21}' }] });
    assert.deepEqual(verdict, { findings: [], flagged: false });
    const sent = fake.requests.at(-1)!;
    assert.equal(sent.path, '/v2/guard');
    assert.equal(sent.authorization, `Bearer ${SCANNER_KEY}`);
    assert.deepEqual(sent.body, {
      messages: [{ role: 'system', content: 'You are terse.' }, { role: 'user', content: 'What is 2+2?' }, { role: 'user', content: '{"temp": 21}' }],
      breakdown: true, payload: true, project_id: 'project-8541012967',
    });
  });

  test('a prompt attack is flagged as lakera.prompt_attack in its message', async () => {
    const verdict = await scanner.scan(ATTACKING);
    assert.equal(verdict.flagged, true);
    assert.deepEqual(verdict.findings, [{
      detector: 'lakera.prompt_attack', kind: 'injection', type: 'PROMPT_ATTACK', score: 1, reason: 'Lakera Guard\'s prompt_attack detector fired', start: 0, end: 0, messageIndex: 1,
    }]);
  });

  test('PII comes with its span from payload, once (not again from breakdown), and the completion goes as assistant', async () => {
    const verdict = await scanner.scan(LEAKY_OUTPUT);
    assert.equal(verdict.flagged, true);
    assert.equal(verdict.findings.length, 1);
    const [email] = verdict.findings;
    assert.equal(email!.detector, 'lakera.pii.email');
    assert.equal(email!.kind, 'pii');
    assert.equal(email!.type, 'EMAIL');
    assert.equal(email!.messageIndex, 1);
    assert.equal(LEAKY_OUTPUT.messages[1]!.text.slice(email!.start, email!.end), 'jane.doe@example.com');
    assert.ok(!JSON.stringify(verdict).includes('jane.doe'), 'the matched text Lakera returns is not kept');
    assert.equal(fake.requests.at(-1)!.body.messages[1].role, 'assistant');
  });

  test('a wrong key is http_401', async () => {
    const wrong = new LakeraScanner({ name: 'lakera', url: fake.url, apiKey: 'sk-other', timeoutMs: 2_000 });
    await rejectsUnavailable(wrong.scan(CLEAN), 'http_401');
    await wrong.close();
  });
});

describe('LLM Guard scanner', () => {
  let fake: FakeScanner;
  let scanner: LlmGuardScanner;
  before(async () => {
    fake = await startFakeLlmGuard();
    scanner = new LlmGuardScanner({ name: 'llm-guard', url: `${fake.url}`, apiKey: SCANNER_KEY, timeoutMs: 2_000, scannersSuppress: ['Toxicity'] });
  });
  after(async () => {
    await scanner.close();
    await fake.close();
  });

  test('a clean prompt is valid; the request is /analyze/prompt with the joined prompt and scanners_suppress', async () => {
    assert.deepEqual(await scanner.scan(CLEAN), { findings: [], flagged: false });
    const sent = fake.requests.at(-1)!;
    assert.equal(sent.path, '/analyze/prompt');
    assert.equal(sent.authorization, `Bearer ${SCANNER_KEY}`);
    assert.deepEqual(sent.body, { prompt: 'You are terse.\n\nWhat is 2+2?', scanners_suppress: ['Toxicity'] });
  });

  test('an injection scores PromptInjection above its threshold', async () => {
    const verdict = await scanner.scan(ATTACKING);
    assert.equal(verdict.flagged, true);
    assert.deepEqual(verdict.findings, [{
      detector: 'llm_guard.prompt_injection', kind: 'injection', type: 'PROMPT_INJECTION', score: 1,
      reason: 'LLM Guard\'s PromptInjection scanner scored 1, above its threshold', start: 0, end: 0,
    }]);
  });

  test('an output scan goes to /analyze/output with the prompt and the completion apart', async () => {
    const verdict = await scanner.scan(LEAKY_OUTPUT);
    assert.equal(verdict.flagged, true);
    assert.equal(verdict.findings[0]!.detector, 'llm_guard.sensitive');
    assert.equal(verdict.findings[0]!.kind, 'pii');
    const sent = fake.requests.at(-1)!;
    assert.equal(sent.path, '/analyze/output');
    assert.deepEqual(sent.body, { prompt: 'Who do I write to?', output: 'Write to jane.doe@example.com today.', scanners_suppress: ['Toxicity'] });
  });

  test('no token is the server\'s 403; a wrong one its 401', async () => {
    const none = new LlmGuardScanner({ name: 'llm-guard', url: fake.url, timeoutMs: 2_000 });
    await rejectsUnavailable(none.scan(CLEAN), 'http_403');
    await none.close();
    const wrong = new LlmGuardScanner({ name: 'llm-guard', url: fake.url, apiKey: 'not-the-token', timeoutMs: 2_000 });
    await rejectsUnavailable(wrong.scan(CLEAN), 'http_401');
    await wrong.close();
  });
});

test('openScanner builds each type from its config entry', async () => {
  const lakera = await startFakeLakera();
  const llmGuard = await startFakeLlmGuard();
  const webhook = await startFakeWebhook(null);
  const configs = scannersSchema.parse([
    { type: 'lakera', name: 'lakera', url: `${lakera.url}/`, api_key: SCANNER_KEY, project_id: 'project-1' },
    { type: 'llm_guard', name: 'llm-guard', url: llmGuard.url, api_key: SCANNER_KEY, timeout_ms: '1500' },
    { type: 'webhook', name: 'acme', url: webhook.url },
  ]);
  const scanners = configs.map(openScanner);
  try {
    assert.deepEqual(scanners.map((s) => s.constructor.name), ['LakeraScanner', 'LlmGuardScanner', 'WebhookScanner']);
    for (const scanner of scanners) assert.equal((await scanner.scan(ATTACKING)).flagged, true, scanner.name);
    assert.equal(lakera.requests[0]!.body.project_id, 'project-1');
    assert.equal(webhook.requests[0]!.authorization, undefined, 'no api_key: no authorization header');
  } finally {
    for (const scanner of scanners) await scanner.close();
    await Promise.all([lakera.close(), llmGuard.close(), webhook.close()]);
  }
});

test('the config schema: defaults, a key for Lakera\'s hosted API, no credentials in URLs, unique names', () => {
  assert.deepEqual(scannerSchema.parse({ type: 'lakera', name: 'lakera', api_key: 'k' }), {
    type: 'lakera', name: 'lakera', url: 'https://api.lakera.ai', api_key: 'k', timeout_ms: 2_000,
  });
  const issues = (input: unknown) => {
    const parsed = scannersSchema.safeParse(input);
    return parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  };
  assert.match(issues([{ type: 'lakera', name: 'lakera' }])[0]!, /^0\.api_key: is required for Lakera's hosted API/);
  assert.match(issues([{ type: 'webhook', name: 'w', url: 'https://user:pw@hooks.example/scan' }])[0]!, /^0\.url: must not carry credentials/);
  assert.match(issues([{ type: 'llm_guard', name: 'g', url: 'http://g:8000/?x=1' }])[0]!, /^0\.url: must not have a query string/);
  assert.match(issues([{ type: 'webhook', name: 'w', url: 'http://a/', timeout_ms: 10 }])[0]!, /^0\.timeout_ms: must be a whole number of milliseconds/);
  assert.match(issues([{ type: 'aporia', name: 'a' }])[0]!, /^0\.type: type must be webhook, lakera or llm_guard/);
  assert.match(issues([{ type: 'webhook', name: 'w', url: 'http://a/' }, { type: 'webhook', name: 'w', url: 'http://b/' }])[0]!, /^1\.name: "w" is already the name/);
  assert.deepEqual(issues([{ type: 'llm_guard', name: 'g', url: 'http://llm-guard:8000/' }]), []);
});
