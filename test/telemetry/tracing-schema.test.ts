// The `tracing:` config section (src/config/tracing-schema.ts) and how the parsed section becomes
// the exporter's options (src/telemetry/tracing/open-tracing-observer.ts).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tracingSchema, type TracingInput } from '../../src/config/tracing-schema.ts';
import { openTracingObserver, tracingObserverOptions } from '../../src/telemetry/tracing/open-tracing-observer.ts';

const parse = (input: unknown): TracingInput => tracingSchema.parse(input);
const problems = (input: unknown) => {
  const result = tracingSchema.safeParse(input);
  assert.equal(result.success, false, JSON.stringify(input));
  return result.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
};

test('off by default, with the documented defaults', () => {
  assert.deepEqual(parse(undefined), {
    enabled: false, headers: {}, service_name: 'tollgate', resource_attributes: {}, sample_ratio: 1,
    max_queue_size: 2048, max_export_batch_size: 512, scheduled_delay_ms: 1000, export_timeout_ms: 10_000,
  });
});

test('enabled needs an endpoint', () => {
  assert.match(problems({ enabled: true }).join('\n'), /^endpoint: is required when tracing is enabled/);
});

test('the endpoint is an http(s) URL; a bare origin gets /v1/traces, any other path is kept', () => {
  assert.equal(parse({ enabled: true, endpoint: 'http://collector:4318' }).endpoint, 'http://collector:4318/v1/traces');
  assert.equal(parse({ enabled: true, endpoint: 'https://otlp.example.com/' }).endpoint, 'https://otlp.example.com/v1/traces');
  assert.equal(parse({ enabled: true, endpoint: 'https://otlp.example.com/api/v2/otlp/v1/traces' }).endpoint, 'https://otlp.example.com/api/v2/otlp/v1/traces');
  assert.match(problems({ enabled: true, endpoint: 'collector:4318' }).join('\n'), /endpoint: must be an http:\/\/ or https:\/\/ URL/);
  assert.match(problems({ endpoint: 'grpc://collector:4317' }).join('\n'), /endpoint: must be an http/);
});

test('values from environment references arrive as strings and are converted', () => {
  const parsed = parse({ enabled: 'true', endpoint: 'http://c:4318/v1/traces', sample_ratio: '0.25', max_queue_size: '4096', export_timeout_ms: '2000' });
  assert.equal(parsed.enabled, true);
  assert.equal(parsed.sample_ratio, 0.25);
  assert.equal(parsed.max_queue_size, 4096);
  assert.equal(parsed.export_timeout_ms, 2000);
});

test('out-of-range values and unknown keys are refused, naming the field', () => {
  assert.match(problems({ sample_ratio: 1.5 }).join('\n'), /^sample_ratio: must be from 0 to 1/);
  assert.match(problems({ max_queue_size: 0 }).join('\n'), /^max_queue_size:/);
  assert.match(problems({ max_queue_size: 100, max_export_batch_size: 200 }).join('\n'), /^max_export_batch_size: must not exceed max_queue_size \(100\)/);
  assert.match(problems({ scheduled_delay_ms: 1 }).join('\n'), /^scheduled_delay_ms:/);
  assert.match(problems({ sample_rate: 0.5 }).join('\n'), /sample_rate/);
});

test('header values may not carry line breaks, and the value is not echoed', () => {
  const lines = problems({ headers: { authorization: 'Bearer abc\n' } });
  assert.match(lines.join('\n'), /^headers\.authorization: header values must be printable/);
  assert.ok(!lines.join('\n').includes('Bearer abc'));
});

test('the parsed section becomes the exporter\'s options; off means no exporter', async () => {
  const parsed = parse({
    enabled: true, endpoint: 'http://c:4318', headers: { authorization: 'Bearer t' }, service_name: 'gw', resource_attributes: { 'deployment.environment.name': 'prod' },
    sample_ratio: 0.5, max_queue_size: 100, max_export_batch_size: 10, scheduled_delay_ms: 50, export_timeout_ms: 500,
  });
  assert.deepEqual(tracingObserverOptions(parsed, { serviceVersion: '1.2.3', maxTextChars: 5000 }), {
    endpoint: 'http://c:4318/v1/traces', headers: { authorization: 'Bearer t' }, serviceName: 'gw', resourceAttributes: { 'deployment.environment.name': 'prod' },
    sampleRatio: 0.5, maxQueueSize: 100, maxExportBatchSize: 10, scheduledDelayMs: 50, exportTimeoutMs: 500, serviceVersion: '1.2.3', maxTextChars: 5000,
  });
  assert.equal(tracingObserverOptions(parse({})), undefined);
  assert.equal(await openTracingObserver(parse({ endpoint: 'http://c:4318' })), undefined, 'an endpoint alone does not turn tracing on');
  const observer = await openTracingObserver(parsed);
  assert.equal(observer?.name, 'otlp');
  await observer!.close();
});
