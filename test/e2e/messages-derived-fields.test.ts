// /v1/messages to a non-Anthropic provider: fields the gateway derives for the client
// (user from metadata.user_id) never fail a request on a provider that lacks them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { startFakeOpenAIUpstream } from '../helpers/fake-openai-upstream.ts';
import { startTestGateway } from '../helpers/test-gateway.ts';

test('metadata.user_id reaches a provider that takes `user`, and is left out for one that does not (Mistral)', async () => {
  const upstream = await startFakeOpenAIUpstream();
  const gw = await startTestGateway(`
general_settings: { master_key: sk-derived-fields-key }
models:
  via-openai:
    deployments: [{ provider: openai_compatible, model: ok, api_base: "${upstream.baseURL}" }]
  via-mistral:
    deployments: [{ provider: mistral, model: ok, api_base: "${upstream.baseURL}", api_key: sk-mistral-upstream }]
`);
  try {
    const client = new Anthropic({ baseURL: gw.url, apiKey: 'sk-derived-fields-key', maxRetries: 0 });
    const ask = (model: string) => client.messages.create({ model, max_tokens: 20, top_k: 5, metadata: { user_id: 'user-123' }, messages: [{ role: 'user', content: 'hi' }] } as any);
    await ask('via-openai');
    assert.equal(upstream.last().body.user, 'user-123');
    assert.equal(upstream.last().body.top_k, undefined, 'top_k has no chat-completions equivalent');
    const message = await ask('via-mistral');
    assert.equal(message.type, 'message');
    assert.equal('user' in upstream.last().body, false);
  } finally {
    await gw.shutdown();
    await upstream.close();
  }
});
