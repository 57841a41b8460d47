import assert from 'node:assert/strict';
import { test } from 'node:test';
import OpenAI from 'openai';
import { sendJSON, simulatorFetch } from './sim-helpers.ts';

const INPUT = ['refund my order please', 'quantum chromodynamics lecture'];

function decode(b64: string): number[] {
  const buf = Buffer.from(b64, 'base64');
  return Array.from(new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4));
}

test('embeddings: encoding_format base64 returns little-endian float32 of the float vectors', async () => {
  const floats = await sendJSON('/v1/embeddings', { model: 'sim-embed', input: INPUT, dimensions: 24, encoding_format: 'float' });
  const b64 = await sendJSON('/v1/embeddings', { model: 'sim-embed', input: INPUT, dimensions: 24, encoding_format: 'base64' });
  assert.equal(b64.status, 200);
  assert.equal(b64.body.data.length, 2);
  for (const [i, item] of b64.body.data.entries()) {
    assert.equal(typeof item.embedding, 'string', 'base64 embeddings are strings');
    const vector: number[] = floats.body.data[i].embedding;
    assert.equal(Buffer.from(item.embedding, 'base64').byteLength, 24 * 4);
    assert.deepEqual(decode(item.embedding), vector.map(Math.fround));
  }
  assert.deepEqual(b64.body.usage, floats.body.usage);
});

test('embeddings: floats when encoding_format is absent', async () => {
  const { body } = await sendJSON('/v1/embeddings', { model: 'sim-embed', input: 'hello', dimensions: 8 });
  assert.ok(Array.isArray(body.data[0].embedding));
  assert.equal(body.data[0].embedding.length, 8);
});

test('embeddings: one token array is one input, not one input per token', async () => {
  const { body } = await sendJSON('/v1/embeddings', { model: 'sim-embed', input: [12, 34, 56], dimensions: 8 });
  assert.equal(body.data.length, 1);
  assert.equal(body.usage.prompt_tokens, 3, 'a token array counts its tokens');
  const many = await sendJSON('/v1/embeddings', { model: 'sim-embed', input: [[12, 34], [56]], dimensions: 8 });
  assert.equal(many.body.data.length, 2);
  assert.equal(many.body.usage.prompt_tokens, 3);
});

test('embeddings: the official SDK (base64 by default) decodes the same vectors as floats', async () => {
  const client = new OpenAI({ apiKey: 'sk-test', baseURL: 'http://simulator.invalid/v1', fetch: simulatorFetch(), maxRetries: 0 });
  const viaSdk = await client.embeddings.create({ model: 'sim-embed', input: INPUT, dimensions: 16 });
  const floats = await sendJSON('/v1/embeddings', { model: 'sim-embed', input: INPUT, dimensions: 16 });
  assert.equal(viaSdk.data.length, 2);
  viaSdk.data.forEach((d, i) => {
    assert.equal(d.embedding.length, 16);
    (floats.body.data[i].embedding as number[]).forEach((v, j) => assert.ok(Math.abs(d.embedding[j]! - v) < 1e-6, `component ${j}: ${d.embedding[j]} vs ${v}`));
  });
});
