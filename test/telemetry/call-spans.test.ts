// A finished call → its spans (src/telemetry/tracing/call-spans.ts): ids and parents, times,
// GenAI and Tollgate attributes, error status, and text only for calls whose text is logged.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type { AttemptMark, FinishedCall, StageMark } from '../../src/telemetry/finished-call.ts';
import { callSpans, hrTime, spanCount, stageSpanId, type SpanSource } from '../../src/telemetry/tracing/call-spans.ts';
import { ledgerEvent, type LedgerEventOverrides } from '../helpers/ledger-events.ts';

const TRACE = '0af7651916cd43dd8448eb211c80319c';
const REQUEST_SPAN = 'b7ad6b7169203331';
const CLIENT_SPAN = '00f067aa0ba902b7';
/** performance.now() when the request arrived, and the epoch ms it maps to. */
const T = 5_000.25;
const EPOCH = 1_796_000_000_000;

const source: SpanSource = { resource: resourceFromAttributes({ 'service.name': 'tollgate-test' }), scope: { name: 'tollgate' }, maxTextChars: 4000 };

function attempt(over: Partial<AttemptMark> = {}): AttemptMark {
  return { spanId: '1111111111111111', alias: 'support-quality', deployment: 'openai-eu', provider: 'openai', model: 'gpt-4o', start: T + 10, end: T + 400, outcome: 'ok', httpStatus: 200, ...over };
}

function call(over: Partial<Omit<FinishedCall, 'event'>> & { event?: LedgerEventOverrides } = {}): FinishedCall {
  const { event, ...rest } = over;
  return {
    event: ledgerEvent({ trace_id: TRACE, ...event }),
    timeline: {
      stages: [
        { stage: 'auth', start: T + 0.5, end: T + 1.5 },
        { stage: 'route', start: T + 2, end: T + 3 },
        { stage: 'policy', start: T + 3, end: T + 9 },
      ],
      attempts: [attempt()],
    },
    receivedAt: T,
    endedAt: T + 420,
    receivedAtEpochMs: EPOCH,
    spanId: REQUEST_SPAN,
    ...rest,
  };
}

/** Epoch nanoseconds of an HrTime, as a number of milliseconds (for comparisons). */
const ms = (t: [number, number]) => t[0] * 1000 + t[1] / 1e6;
const byName = (spans: ReadableSpan[], name: string) => spans.filter((s) => s.name === name);
const root = (spans: ReadableSpan[]) => byName(spans, 'gateway.request')[0]!;

describe('ids and parents', () => {
  test('the request span has the gateway\'s span id and the client\'s span as its remote parent', () => {
    const spans = callSpans(call({ parentSpanId: CLIENT_SPAN, traceFlags: '01' }), source);
    const request = root(spans);
    assert.equal(request.kind, SpanKind.SERVER);
    assert.deepEqual(request.spanContext(), { traceId: TRACE, spanId: REQUEST_SPAN, traceFlags: 1, isRemote: false });
    assert.deepEqual(request.parentSpanContext, { traceId: TRACE, spanId: CLIENT_SPAN, traceFlags: 1, isRemote: true });
  });

  test('without a client traceparent the request span is a root', () => {
    const request = root(callSpans(call(), source));
    assert.equal(request.parentSpanContext, undefined);
  });

  test('one child per stage and per attempt, all in the call\'s trace, under the request span', () => {
    const c = call({ timeline: { stages: call().timeline.stages, attempts: [attempt({ spanId: 'aaaaaaaaaaaaaaaa', outcome: 'failed', code: 'upstream_server_error', httpStatus: 500 }), attempt({ spanId: 'bbbbbbbbbbbbbbbb', start: T + 200 })] } });
    const spans = callSpans(c, source);
    assert.equal(spans.length, spanCount(c));
    assert.deepEqual(spans.map((s) => s.name), ['gateway.request', 'gateway.auth', 'gateway.route', 'gateway.policy', 'gateway.provider', 'gateway.provider']);
    for (const span of spans.slice(1)) {
      assert.equal(span.spanContext().traceId, TRACE);
      assert.equal(span.parentSpanContext?.spanId, REQUEST_SPAN);
      assert.equal(span.parentSpanContext?.isRemote, false);
    }
    const providers = byName(spans, 'gateway.provider');
    assert.deepEqual(providers.map((s) => s.spanContext().spanId), ['aaaaaaaaaaaaaaaa', 'bbbbbbbbbbbbbbbb'], 'an attempt\'s span id is the one it sent upstream');
    assert.ok(providers.every((s) => s.kind === SpanKind.CLIENT));
    assert.ok(byName(spans, 'gateway.auth').every((s) => s.kind === SpanKind.INTERNAL));
  });

  test('stage span ids are unique, 16 hex digits, and the same every time the call is built', () => {
    const first = callSpans(call(), source).map((s) => s.spanContext().spanId);
    const second = callSpans(call(), source).map((s) => s.spanContext().spanId);
    assert.deepEqual(first, second);
    assert.equal(new Set(first).size, first.length);
    for (const id of first) assert.match(id, /^[0-9a-f]{16}$/);
    assert.equal(first[1], stageSpanId(REQUEST_SPAN, 0));
  });

  test('a client that sent other trace flags gets them on the parent context', () => {
    const request = root(callSpans(call({ parentSpanId: CLIENT_SPAN, traceFlags: '03' }), source));
    assert.equal(request.parentSpanContext?.traceFlags, 3);
  });
});

describe('times', () => {
  test('performance.now() marks become epoch times: receivedAtEpochMs + (t - receivedAt)', () => {
    const spans = callSpans(call(), source);
    const request = root(spans);
    assert.equal(ms(request.startTime), EPOCH);
    assert.equal(ms(request.endTime), EPOCH + 420);
    assert.equal(ms(request.duration), 420);
    const auth = byName(spans, 'gateway.auth')[0]!;
    assert.equal(ms(auth.startTime), EPOCH + 0.5);
    assert.equal(ms(auth.endTime), EPOCH + 1.5);
    const provider = byName(spans, 'gateway.provider')[0]!;
    assert.equal(ms(provider.startTime), EPOCH + 10);
    assert.equal(ms(provider.endTime), EPOCH + 400);
  });

  test('a mark that never ended ends with the response', () => {
    const stages: StageMark[] = [{ stage: 'auth', start: T + 1, end: 0 }];
    const spans = callSpans(call({ timeline: { stages, attempts: [attempt({ end: 0, outcome: 'pending', httpStatus: undefined })] } }), source);
    for (const span of spans) assert.equal(ms(span.endTime), EPOCH + 420, span.name);
    const pending = byName(spans, 'gateway.provider')[0]!;
    assert.equal(pending.status.code, SpanStatusCode.UNSET);
  });

  test('hrTime splits epoch milliseconds into whole seconds and nanoseconds', () => {
    assert.deepEqual(hrTime(1_796_000_000_123.5), [1_796_000_000, 123_500_000]);
    assert.deepEqual(hrTime(1_796_000_000_999.9999999), [1_796_000_001, 0]);
    assert.deepEqual(hrTime(0), [0, 0]);
  });
});

describe('attributes', () => {
  test('the request span: GenAI conventions, HTTP status and the tollgate.* attributes', () => {
    const c = call({ event: { stream: true, usage: { reasoning: 12, cache_write: 3 } } });
    const request = root(callSpans(c, source));
    const a = request.attributes;
    assert.equal(a['gen_ai.operation.name'], 'chat');
    assert.equal(a['gen_ai.provider.name'], 'openai');
    assert.equal(a['gen_ai.request.model'], 'support-quality');
    assert.equal(a['gen_ai.response.model'], 'gpt-4o');
    assert.equal(a['gen_ai.request.stream'], true);
    assert.equal(a['gen_ai.usage.input_tokens'], 1200);
    assert.equal(a['gen_ai.usage.output_tokens'], 310);
    assert.equal(a['gen_ai.usage.cache_read.input_tokens'], 1024);
    assert.equal(a['gen_ai.usage.cache_write.input_tokens'], 3);
    assert.equal(a['gen_ai.usage.reasoning.output_tokens'], 12);
    assert.equal(a['gen_ai.system'], undefined, 'gen_ai.system is deprecated for gen_ai.provider.name');
    assert.equal(a['http.response.status_code'], 200);
    assert.equal(a['tollgate.request_id'], c.event.request_id);
    assert.equal(a['tollgate.status'], 'success');
    assert.equal(a['tollgate.vendor_request_id'], 'req_9b2');
    assert.equal(a['tollgate.tenant_id'], 'acme');
    assert.equal(a['tollgate.feature_id'], 'support-bot');
    assert.equal(a['tollgate.key_id'], 'key_1');
    assert.equal(a['tollgate.team_id'], 'payments');
    assert.equal(a['tollgate.cost_usd'], 0.00486);
    assert.equal(a['tollgate.cache_hit'], false);
    assert.equal(a['tollgate.fallback_used'], false);
    assert.equal(a['tollgate.attempts'], 1);
    assert.equal(a['tollgate.price_missing'], false);
    assert.equal(a['tollgate.deployment_id'], 'openai-eu');
    assert.equal(a['error.type'], undefined);
    assert.equal(request.status.code, SpanStatusCode.UNSET);
  });

  test('a non-streamed call has no gen_ai.request.stream (unset means not streaming)', () => {
    assert.equal(root(callSpans(call(), source)).attributes['gen_ai.request.stream'], undefined);
  });

  test('unknown ids are left out rather than sent empty', () => {
    const a = root(callSpans(call({ event: { tenant_id: null, feature_id: null, key_id: null, team_id: null, model_resolved: null, provider: null, deployment_id: null } }), source)).attributes;
    for (const key of ['tollgate.tenant_id', 'tollgate.feature_id', 'tollgate.key_id', 'tollgate.team_id', 'gen_ai.response.model', 'gen_ai.provider.name', 'tollgate.deployment_id']) {
      assert.ok(!(key in a), key);
    }
  });

  test('tokens are on the request span only (GenAI backends add them up over a trace)', () => {
    for (const span of byName(callSpans(call(), source), 'gateway.provider')) {
      assert.equal(span.attributes['gen_ai.usage.input_tokens'], undefined);
      assert.equal(span.attributes['gen_ai.usage.output_tokens'], undefined);
    }
  });

  test('an attempt span: provider, model sent upstream, deployment, status, time to first chunk in seconds', () => {
    const spans = callSpans(call({ event: { stream: true, provider: 'azure' }, timeline: { stages: [], attempts: [attempt({ provider: 'azure', model: 'gpt-4o-2024-08-06', firstTokenAt: T + 260 })] } }), source);
    const a = byName(spans, 'gateway.provider')[0]!.attributes;
    assert.equal(a['gen_ai.operation.name'], 'chat');
    assert.equal(a['gen_ai.provider.name'], 'azure.ai.openai');
    assert.equal(a['gen_ai.request.model'], 'gpt-4o-2024-08-06');
    assert.equal(a['gen_ai.request.stream'], true);
    assert.equal(a['gen_ai.response.time_to_first_chunk'], 0.25);
    assert.equal(a['http.response.status_code'], 200);
    assert.equal(a['tollgate.alias'], 'support-quality');
    assert.equal(a['tollgate.deployment_id'], 'openai-eu');
    assert.equal(a['tollgate.provider'], 'azure');
    assert.equal(a['tollgate.attempt'], 1);
    assert.equal(root(spans).attributes['gen_ai.provider.name'], 'azure.ai.openai');
  });

  test('providers without a well-known GenAI name keep Tollgate\'s; embeddings are the embeddings operation', () => {
    const spans = callSpans(call({ event: { endpoint: 'embeddings', provider: 'vllm' }, timeline: { stages: [], attempts: [attempt({ provider: 'vllm' })] } }), source);
    assert.equal(root(spans).attributes['gen_ai.provider.name'], 'vllm');
    assert.equal(root(spans).attributes['gen_ai.operation.name'], 'embeddings');
    assert.equal(byName(spans, 'gateway.provider')[0]!.attributes['gen_ai.operation.name'], 'embeddings');
  });

  test('estimated usage is flagged', () => {
    assert.equal(root(callSpans(call({ event: { usage: { estimated: true } } }), source)).attributes['tollgate.usage_estimated'], true);
  });

  test('no secret reaches an attribute: the deployment\'s api key and the client\'s key are nowhere', () => {
    const spans = callSpans(call({ text: { prompt: { model: 'm', messages: [{ role: 'user', content: 'use sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcd please' }] }, completion: 'ok' } }), source);
    const everything = JSON.stringify(spans.map((s) => s.attributes));
    assert.ok(!everything.includes('sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcd'), everything);
    assert.ok(everything.includes('[SECRET]'));
  });
});

describe('errors', () => {
  test('a failed attempt is an error with its gateway error code as error.type', () => {
    const spans = callSpans(call({ timeline: { stages: [], attempts: [attempt({ outcome: 'failed', code: 'upstream_rate_limited', httpStatus: 429 }), attempt({ spanId: '2222222222222222' })] } }), source);
    const [failed, served] = byName(spans, 'gateway.provider');
    assert.equal(failed!.status.code, SpanStatusCode.ERROR);
    assert.equal(failed!.status.message, 'upstream_rate_limited');
    assert.equal(failed!.attributes['error.type'], 'upstream_rate_limited');
    assert.equal(failed!.attributes['http.response.status_code'], 429);
    assert.equal(served!.status.code, SpanStatusCode.UNSET);
    assert.equal(served!.attributes['error.type'], undefined);
  });

  test('an attempt that failed without a code or status still names its error', () => {
    const spans = callSpans(call({ timeline: { stages: [], attempts: [attempt({ outcome: 'failed', httpStatus: undefined })] } }), source);
    assert.equal(byName(spans, 'gateway.provider')[0]!.attributes['error.type'], '_OTHER');
  });

  test('a request the providers failed (5xx) is an error', () => {
    const request = root(callSpans(call({ event: { outcome: { status: 'upstream_error', error_code: 'upstream_server_error', http_status: 502 } } }), source));
    assert.equal(request.status.code, SpanStatusCode.ERROR);
    assert.equal(request.status.message, 'upstream_server_error');
    assert.equal(request.attributes['error.type'], 'upstream_server_error');
    assert.equal(request.attributes['http.response.status_code'], 502);
  });

  test('a stream that broke after its 200 started is an error', () => {
    const request = root(callSpans(call({ event: { outcome: { status: 'upstream_error', error_code: 'upstream_stream_interrupted', http_status: 200 } } }), source));
    assert.equal(request.status.code, SpanStatusCode.ERROR);
    assert.equal(request.attributes['error.type'], 'upstream_stream_interrupted');
  });

  test('a client that went away mid-answer is an error (client_gone)', () => {
    const request = root(callSpans(call({ event: { outcome: { status: 'client_gone', error_code: null, http_status: 200 } } }), source));
    assert.equal(request.status.code, SpanStatusCode.ERROR);
    assert.equal(request.attributes['error.type'], 'client_gone');
  });

  test('a 4xx refusal is the client\'s: status unset, error.type says why', () => {
    for (const [status, code, http] of [['rate_limited', 'rate_limited', 429], ['budget_blocked', 'budget_exceeded', 429], ['auth_failed', 'key_revoked', 401], ['invalid_request', 'invalid_request', 400]] as const) {
      const request = root(callSpans(call({ event: { outcome: { status, error_code: code, http_status: http } } }), source));
      assert.equal(request.status.code, SpanStatusCode.UNSET, status);
      assert.equal(request.attributes['error.type'], code, status);
    }
  });
});

describe('prompt and completion text', () => {
  test('no text attributes unless the call carries its text (prompt logging on for it)', () => {
    const keys = callSpans(call(), source).flatMap((s) => Object.keys(s.attributes));
    for (const key of ['gen_ai.input.messages', 'gen_ai.output.messages', 'gen_ai.system_instructions']) assert.ok(!keys.includes(key), key);
  });

  test('an OpenAI chat prompt and its completion, as GenAI messages (JSON), on the request span only', () => {
    const prompt = {
      model: 'support-quality',
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: [{ type: 'text', text: 'Weather in Paris?' }, { type: 'image_url', image_url: { url: 'https://example.com/sky.png' } }] },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
        { role: 'tool', tool_call_id: 'call_1', content: 'rainy, 14 °C' },
      ],
    };
    const spans = callSpans(call({ text: { prompt, completion: 'Rainy, 14 °C.' } }), source);
    const a = root(spans).attributes;
    assert.deepEqual(JSON.parse(String(a['gen_ai.input.messages'])), [
      { role: 'system', parts: [{ type: 'text', content: 'You are terse.' }] },
      { role: 'user', parts: [{ type: 'text', content: 'Weather in Paris?' }, { type: 'uri', modality: 'image', uri: 'https://example.com/sky.png' }] },
      { role: 'assistant', parts: [{ type: 'tool_call', id: 'call_1', name: 'get_weather', arguments: { city: 'Paris' } }] },
      { role: 'tool', parts: [{ type: 'tool_call_response', id: 'call_1', response: 'rainy, 14 °C' }] },
    ]);
    assert.deepEqual(JSON.parse(String(a['gen_ai.output.messages'])), [{ role: 'assistant', parts: [{ type: 'text', content: 'Rainy, 14 °C.' }] }]);
    assert.equal(a['tollgate.text_truncated'], undefined);
    for (const span of spans.slice(1)) assert.equal(span.attributes['gen_ai.input.messages'], undefined, span.name);
  });

  test('an Anthropic prompt: system instructions apart, content blocks as parts', () => {
    const prompt = {
      model: 'claude',
      system: [{ type: 'text', text: 'Be kind.' }],
      messages: [
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: [{ type: 'thinking', thinking: 'hmm' }, { type: 'tool_use', id: 'tu_1', name: 'lookup', input: { q: 'x' } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'tu_1', content: [{ type: 'text', text: 'found' }] }] },
      ],
    };
    const a = root(callSpans(call({ event: { endpoint: 'messages' }, text: { prompt, completion: 'Hello!' } }), source)).attributes;
    assert.deepEqual(JSON.parse(String(a['gen_ai.system_instructions'])), [{ type: 'text', content: 'Be kind.' }]);
    assert.deepEqual(JSON.parse(String(a['gen_ai.input.messages'])), [
      { role: 'user', parts: [{ type: 'text', content: 'Hi' }] },
      { role: 'assistant', parts: [{ type: 'reasoning', content: 'hmm' }, { type: 'tool_call', id: 'tu_1', name: 'lookup', arguments: { q: 'x' } }] },
      { role: 'user', parts: [{ type: 'tool_call_response', id: 'tu_1', response: 'found' }] },
    ]);
  });

  test('text is redacted and bounded: PII is replaced, a long completion is cut and flagged', () => {
    const long = 'word '.repeat(3000);
    const a = root(callSpans(call({ text: { prompt: { messages: [{ role: 'user', content: 'mail me at jane.doe@example.com' }] }, completion: long } }), { ...source, maxTextChars: 1000 })).attributes;
    assert.ok(String(a['gen_ai.input.messages']).includes('[EMAIL]'));
    assert.ok(!String(a['gen_ai.input.messages']).includes('jane.doe@example.com'));
    const output = String(a['gen_ai.output.messages']);
    assert.ok(output.length <= 1000, `${output.length} characters`);
    assert.ok(Array.isArray(JSON.parse(output)), 'still valid JSON after the cut');
    assert.equal(a['tollgate.text_truncated'], true);
  });

  test('embeddings carry no input messages (the conventions define none)', () => {
    const a = root(callSpans(call({ event: { endpoint: 'embeddings' }, text: { prompt: { model: 'e', input: ['a', 'b'] }, completion: '' } }), source)).attributes;
    assert.equal(a['gen_ai.input.messages'], undefined);
    assert.equal(a['gen_ai.output.messages'], undefined);
  });
});
