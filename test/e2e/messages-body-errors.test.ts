// A provider that answers 200 with an error object is a failure, not a success to relay.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { startTestGateway } from '../helpers/test-gateway.ts';

test('native /v1/messages: a 200 carrying {"type":"error"} becomes the mapped error, not a 200', async () => {
  const upstream = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }));
    });
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const port = (upstream.address() as AddressInfo).port;
  const gw = await startTestGateway(`
general_settings: { master_key: sk-body-errors-key }
models:
  claude:
    deployments: [{ id: claude-a, provider: anthropic, model: claude-x, api_key: sk-ant-upstream-secret, api_base: "http://127.0.0.1:${port}" }]
`);
  try {
    const client = new Anthropic({ baseURL: gw.url, apiKey: 'sk-body-errors-key', maxRetries: 0 });
    await assert.rejects(client.messages.create({ model: 'claude', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }), (err: any) => {
      assert.equal(err.status, 503);
      assert.match(err.message, /claude-a \(anthropic\) answered 200 with an error: Overloaded \[upstream_overloaded\]/);
      return true;
    });
  } finally {
    await gw.shutdown();
    upstream.close();
  }
});
