// How a stream ends: at the provider's [DONE] (even if its connection lingers), and when a
// client stops reading (it must not pin the provider connection forever).
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { startTestGateway, type TestGateway } from '../helpers/test-gateway.ts';

const MASTER = 'sk-stream-lifecycle-key';
const CHUNK = (text: string) => `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content: text }, finish_reason: null }] })}\n\n`;

let upstream: ReturnType<typeof createServer>;
let upstreamClosed: Promise<void>;
let markClosed: () => void;
let gw: TestGateway;

function drainOrClose(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.once('drain', done);
    res.once('close', done);
  });
}

function handle(req: IncomingMessage, res: ServerResponse): void {
  let body = '';
  req.on('data', (c: Buffer) => (body += c));
  req.on('end', async () => {
    const { model } = JSON.parse(body) as { model: string };
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    if (model === 'done-then-linger') {
      res.write(CHUNK('hi') + 'data: [DONE]\n\n'); // and never end the response
      return;
    }
    // 'firehose': write until the gateway stops taking data, honouring backpressure.
    res.on('close', () => markClosed());
    const payload = CHUNK('x'.repeat(60_000));
    for (let i = 0; i < 2_000 && !res.destroyed; i++) {
      if (!res.write(payload)) await drainOrClose(res);
    }
  });
}

before(async () => {
  upstreamClosed = new Promise((resolve) => (markClosed = resolve));
  upstream = createServer(handle);
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/v1`;
  gw = await startTestGateway(`
general_settings: { master_key: ${MASTER} }
models:
  linger:
    deployments: [{ provider: openai_compatible, model: done-then-linger, api_base: "${base}", stream_timeout_ms: 10000 }]
  firehose:
    deployments: [{ provider: openai_compatible, model: firehose, api_base: "${base}", stream_timeout_ms: 400 }]
`);
});

after(async () => {
  await gw.shutdown();
  upstream.closeAllConnections();
  await new Promise<void>((resolve) => upstream.close(() => resolve()));
});

test('the client gets [DONE] and the end of its response at once, though the provider connection lingers', async () => {
  const started = performance.now();
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${MASTER}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'linger', stream: true, messages: [{ role: 'user', content: 'hi' }] }),
  });
  const text = await res.text();
  assert.ok(performance.now() - started < 2_000, 'the stream ended without waiting for the provider connection');
  assert.ok(text.endsWith('data: [DONE]\n\n'), text);
  assert.doesNotMatch(text, /"error"/);
});

test('a client that stops reading is dropped after the stream timeout and the provider request is aborted', async () => {
  const socket = connect((gw.gateway.port), '127.0.0.1');
  await once(socket, 'connect');
  const body = JSON.stringify({ model: 'firehose', stream: true, messages: [{ role: 'user', content: 'go' }] });
  socket.write(`POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${MASTER}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  socket.pause(); // never read: the gateway's writes back up
  const closed = await Promise.race([upstreamClosed.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 8_000))]);
  socket.destroy();
  assert.equal(closed, true, 'the provider request was aborted');
  for (let i = 0; i < 100 && gw.gateway.app.inFlight() > 0; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(gw.gateway.app.inFlight(), 0, 'no request is left in flight');
});
