// The client's view of a chat call through the gateway, for the reliability suites: one raw
// HTTP request (fetch, no SDK in between), its status, headers and, for a stream, every SSE
// event as it came over the wire. `parseSse` is strict: a `data:` line that is not whole JSON
// (nor [DONE]) fails the test, so a half-written event can never pass unnoticed. Non-stream
// chat helpers are in reliability.ts.

import assert from 'node:assert/strict';

export interface WireEvent {
  /** The `data:` payload as sent. */
  readonly data: string;
  /** Its JSON, or undefined for [DONE]. */
  readonly json: any;
}

export interface WireAnswer {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  /** Streams (text/event-stream): every event, in order. */
  readonly events: WireEvent[];
  /** Non-stream answers: the body's JSON (undefined when it is not JSON). */
  readonly json: any;
  /** ms from sending the request to the end of the body. */
  readonly ms: number;
}

/** Splits an SSE body into events; every data line must be whole JSON or [DONE]. */
export function parseSse(text: string): WireEvent[] {
  assert.ok(text === '' || text.endsWith('\n\n'), `the stream does not end on an event boundary: ${JSON.stringify(text.slice(-80))}`);
  const events: WireEvent[] = [];
  for (const block of text.split('\n\n')) {
    if (block === '') continue;
    const lines = block.split('\n');
    for (const line of lines) assert.ok(line.startsWith('data: ') || line.startsWith(':'), `unexpected SSE line ${JSON.stringify(line.slice(0, 120))}`);
    const data = lines.filter((l) => l.startsWith('data: ')).map((l) => l.slice('data: '.length)).join('\n');
    if (data === '[DONE]') {
      events.push({ data, json: undefined });
      continue;
    }
    let json: any;
    try {
      json = JSON.parse(data);
    } catch {
      assert.fail(`a data line that is not whole JSON reached the client: ${JSON.stringify(data.slice(0, 200))}`);
    }
    events.push({ data, json });
  }
  return events;
}

/** The generated text of a chat stream's events. */
export function streamedText(events: readonly WireEvent[]): string {
  return events.map((e) => e.json?.choices?.[0]?.delta?.content ?? '').join('');
}

/** The error objects among a stream's events. */
export function streamErrors(events: readonly WireEvent[]): any[] {
  return events.filter((e) => e.json?.error !== undefined).map((e) => e.json.error);
}

/** POST /v1/chat/completions with `key`; `body` defaults to a one-line prompt for `model`. */
export async function chatWire(baseURL: string, key: string, body: Record<string, unknown>, headers: Record<string, string> = {}): Promise<WireAnswer> {
  const started = performance.now();
  const res = await fetch(`${baseURL}/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ messages: [{ role: 'user', content: 'Say hello.' }], ...body }),
  });
  const text = await res.text();
  const ms = performance.now() - started;
  const isStream = (res.headers.get('content-type') ?? '').startsWith('text/event-stream');
  let json: any;
  if (!isStream) {
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
  }
  return { status: res.status, headers: res.headers, text, events: isStream ? parseSse(text) : [], json, ms };
}

/**
 * Asserts a stream that failed after its first byte ends the way the gateway promises: an
 * OpenAI error object (exactly message/type/code/param) and then `data: [DONE]`, with nothing
 * after it and no other error before it. Returns the error object.
 */
export function assertEndsWithErrorEvent(answer: WireAnswer): any {
  assert.equal(answer.status, 200, 'a stream that fails after its first byte keeps its 200');
  const { events } = answer;
  assert.ok(events.length >= 3, `expected some chunks, an error and [DONE]; got ${answer.text}`);
  assert.equal(events.at(-1)!.data, '[DONE]', 'the stream ends with [DONE]');
  const error = events.at(-2)!.json?.error;
  assert.ok(error, `the event before [DONE] is an error object: ${events.at(-2)!.data}`);
  assert.deepEqual(Object.keys(error).sort(), ['code', 'message', 'param', 'type']);
  assert.equal(typeof error.message, 'string');
  assert.equal(streamErrors(events).length, 1, 'exactly one error event');
  assert.equal(events.filter((e) => e.data === '[DONE]').length, 1, 'exactly one [DONE]');
  return error;
}

/** Asserts a clean, complete chat stream: no error anywhere, a finish_reason, then [DONE]. */
export function assertCleanStream(answer: WireAnswer): void {
  assert.equal(answer.status, 200, answer.text);
  const { events } = answer;
  assert.deepEqual(streamErrors(events), [], `no error event: ${answer.text}`);
  assert.equal(events.at(-1)?.data, '[DONE]', 'the stream ends with [DONE]');
  assert.equal(events.filter((e) => e.data === '[DONE]').length, 1);
  assert.ok(events.some((e) => e.json?.choices?.[0]?.finish_reason === 'stop'), 'the stream carries its finish_reason');
}

/** GET /health/providers as `key`: every field of each row (reliability.ts's providers() types the common ones), by deployment id. */
export async function providerRows(url: string, key: string): Promise<Map<string, any>> {
  const res = await fetch(`${url}/health/providers`, { headers: { authorization: `Bearer ${key}` } });
  assert.equal(res.status, 200);
  const body = await res.json() as { deployments: any[] };
  return new Map(body.deployments.map((d) => [d.deployment, d]));
}

/** Polls `read` every 20 ms until `ok` holds for its value, or fails after `timeoutMs`. */
export async function eventually<T>(what: string, read: () => Promise<T>, ok: (value: T) => boolean, timeoutMs = 5_000): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  let last: T;
  for (;;) {
    last = await read();
    if (ok(last)) return last;
    if (performance.now() > deadline) assert.fail(`${what}: not within ${timeoutMs} ms; last seen ${JSON.stringify(last, (_k, v) => (v instanceof Map ? Object.fromEntries(v) : v))}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
