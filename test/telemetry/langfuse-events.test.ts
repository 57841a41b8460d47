import assert from 'node:assert/strict';
import { test } from 'node:test';
import { toIngestionEvents, usageDetails, type GenerationBody, type TraceBody } from '../../src/telemetry/langfuse/ingestion-events.ts';
import { LEDGER_T0 } from '../helpers/ledger-events.ts';
import { finishedCall, RECEIVED_AT, servedAttempt, T0_MS } from './langfuse-calls.ts';

const OPTIONS = { maxTextChars: 100_000 };

function convert(...args: Parameters<typeof finishedCall>): { trace: TraceBody; generation: GenerationBody; ids: string[] } {
  const [trace, generation] = toIngestionEvents(finishedCall(...args), OPTIONS);
  assert.equal(trace.type, 'trace-create');
  assert.equal(generation.type, 'generation-create');
  return { trace: trace.body as TraceBody, generation: generation.body as GenerationBody, ids: [trace.id, generation.id] };
}

test('a served call: one trace (id = the W3C trace id) and one generation (id = the ledger event id)', () => {
  const call = finishedCall();
  const [traceEvent, generationEvent] = toIngestionEvents(call, { ...OPTIONS, environment: 'production', release: '1.4.0' });
  const trace = traceEvent.body as TraceBody;
  const generation = generationEvent.body as GenerationBody;
  const e = call.event;

  assert.equal(trace.id, e.trace_id);
  assert.equal(trace.timestamp, LEDGER_T0);
  assert.equal(trace.name, 'chat.completions');
  assert.equal(trace.userId, 'u-hash-1');
  assert.deepEqual(trace.tags, ['review:42', 'ünïcödé 🚀']);
  assert.equal(trace.environment, 'production');
  assert.equal(trace.release, '1.4.0');
  assert.deepEqual(trace.metadata, {
    workflow: 'refunds', quote: 'he said "hi"\n\\o/',
    tenant_id: 'acme', feature_id: 'support-bot', team_id: 'payments', key_id: 'key_1', key_alias: 'ci',
    request_id: e.request_id, tags: ['review:42', 'ünïcödé 🚀'], status: 'success',
  });

  assert.equal(generation.id, e.event_id);
  assert.equal(generation.traceId, e.trace_id);
  assert.equal(generation.name, 'support-quality');
  assert.equal(generation.model, 'gpt-4o');
  assert.equal(generation.environment, 'production');
  assert.equal(generation.version, 'v7');
  assert.equal(generation.level, 'DEFAULT');
  assert.equal(generation.statusMessage, undefined);
  assert.deepEqual(generation.modelParameters, { stream: false });
  // 1200 input of which 1024 cached; Langfuse's types are disjoint parts of the total.
  assert.deepEqual(generation.usageDetails, { input: 176, input_cache_read: 1024, output: 310, total: 1510 });
  assert.deepEqual(generation.costDetails, { input: 0.00176, output: 0.0031, total: 0.00486 });
  assert.equal(generation.startTime, LEDGER_T0);
  assert.equal(generation.endTime, new Date(T0_MS + 813).toISOString(), 'arrival + 812.61 ms, at millisecond resolution');
  assert.equal(generation.completionStartTime, new Date(T0_MS + 200).toISOString(), 'the serving attempt\'s first token');
  const meta = generation.metadata;
  assert.equal(meta.model_alias, 'support-quality');
  assert.equal(meta.provider, 'openai');
  assert.equal(meta.deployment_id, 'openai-eu');
  assert.equal(meta.request_id, e.request_id);
  assert.equal(meta.tenant_id, 'acme');
  assert.equal(meta.key_id, 'key_1');
  assert.equal(meta.span_id, 'b7ad6b7169203331');
  assert.equal(meta.ledger_event_id, e.event_id);
  assert.deepEqual(meta.latency_ms, { gateway: 0.41, provider: 812.2, ttft: null, total: 812.61 });
  assert.deepEqual(meta.fallback_chain, ['support-quality/openai-eu:ok']);
  assert.equal(meta.price_missing, false);
  assert.ok(!('error_code' in meta) && !('parent_span_id' in meta), 'nulls are left out');

  assert.equal(traceEvent.timestamp, generation.endTime);
  assert.equal(traceEvent.id, `${e.event_id}:trace`);
  assert.equal(generationEvent.id, `${e.event_id}:generation`);
});

test('ids are deterministic: the same call always gives the same events; another call gives other ids', () => {
  const call = finishedCall();
  assert.equal(JSON.stringify(toIngestionEvents(call, OPTIONS)), JSON.stringify(toIngestionEvents(call, OPTIONS)));
  const other = toIngestionEvents(finishedCall(), OPTIONS);
  const first = toIngestionEvents(call, OPTIONS);
  assert.notEqual(other[0].id, first[0].id);
  assert.notEqual(other[1].id, first[1].id);
  assert.notEqual(other[1].body.id, first[1].body.id);
  assert.notEqual(first[0].id, first[1].id, 'envelope ids are unique within the call');
});

test('usage: cache reads, cache writes and reasoning come out of input and output, never below zero', () => {
  assert.deepEqual(usageDetails({ input: 1000, output: 500, cached_input: 200, cache_write: 300, reasoning: 120, total: 1500, estimated: false }), {
    input: 500, input_cache_read: 200, input_cache_creation: 300, output: 380, output_reasoning_tokens: 120, total: 1500,
  });
  assert.deepEqual(usageDetails({ input: 10, output: 0, cached_input: 50, cache_write: 0, reasoning: 0, total: 10, estimated: true }), {
    input: 0, input_cache_read: 50, output: 0, total: 10,
  });
  assert.deepEqual(usageDetails({ input: 10.6, output: Number.NaN, cached_input: 0, cache_write: 0, reasoning: 0, total: 11, estimated: true }), {
    input: 11, output: 0, total: 11,
  }, 'whole non-negative numbers, as Langfuse requires');
});

test('without prompt logging there is no input or output anywhere', () => {
  const { trace, generation } = convert();
  for (const body of [trace, generation]) {
    assert.ok(!('input' in body) && !('output' in body));
  }
});

test('with prompt logging: input and output, redacted, without the end user\'s raw id; sampling settings as modelParameters', () => {
  const prompt = {
    model: 'support-quality',
    user: 'raw-user-7',
    metadata: { user_id: 'raw-user-8', workflow: 'refunds' },
    messages: [{ role: 'user', content: 'mail me at jane.doe@example.com, key sk-proj-abcdefghijklmnopqrstuvwxyz0123456789' }],
    temperature: 0.2,
    max_tokens: 50,
    stop: ['END'],
    response_format: { type: 'json_object' },
  };
  const { trace, generation } = convert({}, { text: { prompt, completion: 'Done. Card 4111 1111 1111 1111 on file.' } });
  const input = generation.input as typeof prompt;
  assert.match(input.messages[0]!.content, /\[EMAIL\]/);
  assert.doesNotMatch(input.messages[0]!.content, /jane\.doe|sk-proj-/);
  assert.equal(generation.output, 'Done. Card [CARD] on file.');
  const json = JSON.stringify([trace, generation]);
  assert.ok(!json.includes('raw-user-7') && !json.includes('raw-user-8'), 'the raw user id never leaves');
  assert.deepEqual(generation.modelParameters, { stream: false, temperature: 0.2, max_tokens: 50, stop: ['END'] });
  assert.deepEqual(trace.input, generation.input, 'the gateway started the trace: it shows the call\'s input and output');
  assert.equal(trace.output, generation.output);
  assert.equal(generation.metadata.text_truncated, undefined);
});

test('long text is cut at max_text_chars and marked', () => {
  const [, generation] = toIngestionEvents(finishedCall({}, { text: { prompt: { messages: [{ role: 'user', content: 'x '.repeat(5000) }] }, completion: 'y '.repeat(5000) } }), { maxTextChars: 1000 });
  const body = generation.body as GenerationBody;
  assert.ok(JSON.stringify(body.input).length <= 1000);
  assert.match(String(body.output), /…\[TRUNCATED\]$/);
  assert.equal(body.metadata.text_truncated, true);
});

test('a trace the client started (traceparent) keeps its own name, input and output', () => {
  const { trace, generation } = convert({}, { parentSpanId: '53995c3f42cd8ad8', text: { prompt: { messages: [] }, completion: 'hi' } });
  assert.ok(!('name' in trace) && !('input' in trace) && !('output' in trace));
  assert.equal(generation.output, 'hi');
  assert.equal(generation.metadata.parent_span_id, '53995c3f42cd8ad8');
});

test('failures: level ERROR with a status message; a client that left is a WARNING', () => {
  const failed = convert({ outcome: { status: 'upstream_error', error_code: 'upstream_timeout', http_status: 504, attempts: 2 } });
  assert.equal(failed.generation.level, 'ERROR');
  assert.equal(failed.generation.statusMessage, 'upstream_error: upstream_timeout (HTTP 504)');
  assert.equal(failed.trace.metadata.status, 'upstream_error');
  assert.equal(failed.trace.metadata.error_code, 'upstream_timeout');

  const limited = convert({ outcome: { status: 'rate_limited', error_code: 'rate_limited', http_status: 429, rate_limit_tier: 'requests_per_minute:key' } });
  assert.equal(limited.generation.level, 'ERROR');
  assert.equal(limited.generation.statusMessage, 'rate_limited: rate_limited (HTTP 429, limit requests_per_minute:key)');

  const gone = convert({ outcome: { status: 'client_gone', error_code: 'client_closed_request', http_status: 499 } });
  assert.equal(gone.generation.level, 'WARNING');
});

test('refused before any provider: no model, no first token, named after the endpoint', () => {
  const { generation } = convert(
    { model_alias: null, model_resolved: null, provider: null, deployment_id: null, latency_ms: { provider: null, total: 3, gateway: 3 }, outcome: { status: 'invalid_request', error_code: 'invalid_request', http_status: 400, attempts: 0, fallback_chain: [] } },
    { timeline: { stages: [], attempts: [] }, endedAt: RECEIVED_AT + 3 },
  );
  assert.equal(generation.name, 'chat.completions');
  assert.ok(!('model' in generation) && !('completionStartTime' in generation));
  assert.equal(generation.endTime, new Date(T0_MS + 3).toISOString());
});

test('time to first token: the timeline\'s mark, else the ledger\'s ttft after the serving attempt started', () => {
  const attempts = [servedAttempt({ outcome: 'failed', code: 'upstream_server_error', firstTokenAt: undefined, end: RECEIVED_AT + 100 }), servedAttempt({ start: RECEIVED_AT + 300, firstTokenAt: undefined })];
  const { generation } = convert({ latency_ms: { ttft: 50 } }, { timeline: { stages: [], attempts } });
  assert.equal(generation.completionStartTime, new Date(T0_MS + 350).toISOString());
});

test('no known price: no costDetails (Langfuse may infer one), and the metadata says so', () => {
  const { generation } = convert({ cost_usd: { input: 0, output: 0, total: 0, price_missing: true } });
  assert.ok(!('costDetails' in generation));
  assert.equal(generation.metadata.price_missing, true);
});

test('the gateway\'s fields win over the request\'s own metadata; session_id becomes the session', () => {
  const { trace } = convert({ metadata: { tenant_id: 'evil', status: 'success', session_id: 'chat-991' }, tenant_id: 'acme', outcome: { status: 'upstream_error', error_code: 'upstream_server_error', http_status: 502 } });
  assert.equal(trace.metadata.tenant_id, 'acme');
  assert.equal(trace.metadata.status, 'upstream_error');
  assert.equal(trace.sessionId, 'chat-991');
});

test('no user, no user id; no environment configured, none sent', () => {
  const { trace, generation } = convert({ user_id_hash: null });
  assert.ok(!('userId' in trace));
  assert.ok(!('environment' in trace) && !('environment' in generation) && !('release' in trace));
});
