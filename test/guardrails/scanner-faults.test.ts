// The external scanner adapters when the service fails, against the same fake servers
// (test/helpers/fake-guard-scanners.ts): an error status, 429, a body that is not JSON, too large
// or off the webhook schema, a closed port, a hang and the caller's abort each reject with
// ScannerUnavailable and its reason (what the tenant's fail_open / fail_closed policy acts on),
// never with the key in it; and the scanner works again once the service does.

import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { LakeraScanner } from '../../src/guardrails/scanners/lakera-scanner.ts';
import { LlmGuardScanner } from '../../src/guardrails/scanners/llm-guard-scanner.ts';
import type { ExternalScanner } from '../../src/guardrails/scanners/scanner.ts';
import { WebhookScanner } from '../../src/guardrails/scanners/webhook-scanner.ts';
import {
  ATTACKING, CLEAN, SCANNER_KEY, rejectsUnavailable, startFakeLakera, startFakeLlmGuard, startFakeWebhook, type FakeScanner,
} from '../helpers/fake-guard-scanners.ts';
import { freePort } from '../helpers/free-port.ts';

type Make = (url: string, timeoutMs: number) => ExternalScanner;
const adapters: [string, () => Promise<FakeScanner>, Make][] = [
  ['webhook', startFakeWebhook, (url, timeoutMs) => new WebhookScanner({ name: 'acme', url, apiKey: SCANNER_KEY, timeoutMs })],
  ['lakera', startFakeLakera, (url, timeoutMs) => new LakeraScanner({ name: 'lakera', url, apiKey: SCANNER_KEY, timeoutMs })],
  ['llm_guard', startFakeLlmGuard, (url, timeoutMs) => new LlmGuardScanner({ name: 'llm-guard', url, apiKey: SCANNER_KEY, timeoutMs })],
];

for (const [type, start, make] of adapters) {
  describe(`${type}: a scanner that fails rejects with ScannerUnavailable`, () => {
    let fake: FakeScanner;
    let scanner: ExternalScanner;
    before(async () => {
      fake = await start();
      scanner = make(fake.url, 300);
    });
    after(async () => {
      await scanner.close();
      await fake.close();
    });

    for (const status of [500, 503, 429]) {
      test(`HTTP ${status} is http_${status}`, async () => {
        fake.fault = { status };
        await rejectsUnavailable(scanner.scan(CLEAN), `http_${status}`);
      });
    }
    test('a body that is not JSON, or too large, is bad_response', async () => {
      fake.fault = 'invalid_json';
      await rejectsUnavailable(scanner.scan(CLEAN), 'bad_response');
      fake.fault = 'huge';
      await rejectsUnavailable(scanner.scan(CLEAN), 'bad_response');
    });
    test('a hang (the request is read, never answered) is timeout', async () => {
      fake.fault = 'hang';
      await rejectsUnavailable(scanner.scan(CLEAN), 'timeout');
    });
    test('the caller\'s abort is aborted', async () => {
      fake.fault = 'hang';
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 20);
      await rejectsUnavailable(scanner.scan(CLEAN, controller.signal), 'aborted');
      await rejectsUnavailable(scanner.scan(CLEAN, AbortSignal.abort()), 'aborted');
    });
    test('after the faults, the same scanner answers again', async () => {
      fake.fault = 'none';
      assert.equal((await scanner.scan(ATTACKING)).flagged, true);
    });
    test('a closed port is unreachable', async () => {
      const port = await freePort();
      const down = make(type === 'webhook' ? `http://127.0.0.1:${port}/hooks/scan?team=blue` : `http://127.0.0.1:${port}`, 300);
      await rejectsUnavailable(down.scan(CLEAN), 'unreachable');
      await down.close();
    });
  });
}

describe('webhook answers that break the schema are bad_response', () => {
  const answers: [string, unknown][] = [
    ['no verdict', { findings: [] }],
    ['an unknown verdict', { verdict: 'maybe' }],
    ['a score above 1', { verdict: 'flag', findings: [{ detector: 'x', score: 2, reason: 'r' }] }],
    ['a span without its message', { verdict: 'flag', findings: [{ detector: 'x', score: 1, reason: 'r', start: 0, end: 3 }] }],
    ['a span past its message', { verdict: 'flag', findings: [{ detector: 'x', score: 1, reason: 'r', message_index: 1, start: 0, end: 999 }] }],
    ['a message that was not sent', { verdict: 'flag', findings: [{ detector: 'x', score: 1, reason: 'r', message_index: 7 }] }],
    ['an array', []],
  ];
  for (const [what, body] of answers) {
    test(what, async () => {
      const server = createServer((_req, res) => res.end(JSON.stringify(body)));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const scanner = new WebhookScanner({ name: 'acme', url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, timeoutMs: 2_000 });
      await rejectsUnavailable(scanner.scan(CLEAN), 'bad_response');
      await scanner.close();
      server.closeAllConnections();
      server.close();
    });
  }
});

