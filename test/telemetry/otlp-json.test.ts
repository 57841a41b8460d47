// OTLP/JSON encoding (the protocol's JSON mapping): hex ids, enum integers, 64-bit values as
// strings, AnyValue attributes, spans grouped by resource and scope.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { encodeTraceRequest } from '../../src/telemetry/tracing/otlp-json.ts';

const resource = resourceFromAttributes({ 'service.name': 'tollgate', 'service.instance.id': 'i-1' });
const scope = { name: 'tollgate', version: '0.1.0' };

function span(overrides: Partial<ReadableSpan> & { id: string; parent?: string }): ReadableSpan {
  const { id, parent, ...rest } = overrides;
  return {
    name: 'gateway.request', kind: SpanKind.SERVER,
    spanContext: () => ({ traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: id, traceFlags: 1 }),
    parentSpanContext: parent ? { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: parent, traceFlags: 1 } : undefined,
    startTime: [1_764_666_000, 5], endTime: [1_764_666_001, 250_000_000], duration: [1, 249_999_995],
    status: { code: SpanStatusCode.UNSET }, attributes: {}, links: [], events: [], ended: true,
    resource, instrumentationScope: scope, droppedAttributesCount: 0, droppedEventsCount: 0, droppedLinksCount: 0,
    ...rest,
  } as ReadableSpan;
}

test('a span in OTLP/JSON: hex ids, kind + 1, nanosecond strings, typed attribute values, status', () => {
  const body = JSON.parse(encodeTraceRequest([
    span({ id: '00f067aa0ba902b7', attributes: { 'gen_ai.request.model': 'gpt-4o', 'gen_ai.usage.input_tokens': 1200, 'tollgate.cost_usd': 0.00486, 'tollgate.cache_hit': false, tags: ['a', 'b'], missing: undefined } }),
    span({ id: '1111111111111111', parent: '00f067aa0ba902b7', name: 'gateway.provider', kind: SpanKind.CLIENT, status: { code: SpanStatusCode.ERROR, message: 'upstream "timeout"' } }),
  ]));
  assert.equal(body.resourceSpans.length, 1);
  const [group] = body.resourceSpans;
  assert.deepEqual(group.resource.attributes, [
    { key: 'service.name', value: { stringValue: 'tollgate' } },
    { key: 'service.instance.id', value: { stringValue: 'i-1' } },
  ]);
  assert.deepEqual(group.scopeSpans[0].scope, scope);
  const [request, provider] = group.scopeSpans[0].spans;
  assert.equal(request.traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
  assert.equal(request.spanId, '00f067aa0ba902b7');
  assert.equal(request.parentSpanId, undefined);
  assert.equal(request.kind, 2, 'SPAN_KIND_SERVER');
  assert.equal(request.startTimeUnixNano, '1764666000000000005');
  assert.equal(request.endTimeUnixNano, '1764666001250000000');
  assert.deepEqual(request.attributes, [
    { key: 'gen_ai.request.model', value: { stringValue: 'gpt-4o' } },
    { key: 'gen_ai.usage.input_tokens', value: { intValue: '1200' } },
    { key: 'tollgate.cost_usd', value: { doubleValue: 0.00486 } },
    { key: 'tollgate.cache_hit', value: { boolValue: false } },
    { key: 'tags', value: { arrayValue: { values: [{ stringValue: 'a' }, { stringValue: 'b' }] } } },
  ]);
  assert.deepEqual(request.status, { code: 0 });
  assert.equal(provider.kind, 3, 'SPAN_KIND_CLIENT');
  assert.equal(provider.parentSpanId, '00f067aa0ba902b7');
  assert.deepEqual(provider.status, { code: 2, message: 'upstream "timeout"' });
});

test('spans of other resources or scopes go in their own groups', () => {
  const other = resourceFromAttributes({ 'service.name': 'other' });
  const body = JSON.parse(encodeTraceRequest([
    span({ id: 'aaaaaaaaaaaaaaaa' }),
    span({ id: 'bbbbbbbbbbbbbbbb', resource: other }),
    span({ id: 'cccccccccccccccc', instrumentationScope: { name: 'tollgate', version: '0.2.0' } }),
  ]));
  assert.equal(body.resourceSpans.length, 2);
  assert.equal(body.resourceSpans[0].scopeSpans.length, 2);
  assert.deepEqual(body.resourceSpans[0].scopeSpans.map((s: { spans: unknown[] }) => s.spans.length), [1, 1]);
});
