// The trace exporter's worker thread: it receives finished calls in batches (span-worker-
// protocol.ts), builds their spans (call-spans.ts), encodes them to OTLP/JSON and POSTs them to
// the collector (otlp-http-exporter.ts), and answers each batch with how it went. The main thread
// keeps the queue, the sampling, the batching and the accounting (otlp-trace-observer.ts).

import { parentPort, workerData } from 'node:worker_threads';
import { ExportResultCode } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { callSpans, spanCount, type SpanSource } from './call-spans.ts';
import { OtlpHttpExporter } from './otlp-http-exporter.ts';
import { fromWire, type FromWorker, type SpanWorkerSettings, type ToWorker } from './span-worker-protocol.ts';

const settings = workerData as SpanWorkerSettings;
const source: SpanSource = {
  resource: resourceFromAttributes(settings.resourceAttributes),
  scope: settings.scope,
  maxTextChars: settings.maxTextChars,
};
const exporter = new OtlpHttpExporter({
  url: settings.url, timeoutMs: settings.timeoutMs, connections: settings.connections,
  ...(settings.headers ? { headers: settings.headers } : {}),
});
const port = parentPort!;

function reply(message: FromWorker): void {
  port.postMessage(message);
}

port.on('message', (message: ToWorker) => {
  if (message.op === 'close') {
    void exporter.shutdown().finally(() => port.close());
    return;
  }
  const spans: ReadableSpan[] = [];
  let invalid = 0;
  for (const wire of message.calls) {
    try {
      spans.push(...callSpans(fromWire(wire), source));
    } catch {
      try {
        invalid += spanCount(fromWire(wire));
      } catch {
        invalid += 1 + wire.timeline.stages.length + wire.timeline.attempts.length;
      }
    }
  }
  if (spans.length === 0) return reply({ id: message.id, invalid });
  exporter.export(spans, (result) => {
    if (result.code === ExportResultCode.SUCCESS) return reply({ id: message.id, invalid });
    const e = result.error as { name?: string; message?: string; code?: string | number } | undefined;
    reply({ id: message.id, invalid, error: { message: e?.message ?? 'export failed', ...(e?.name ? { name: e.name } : {}), ...(e?.code !== undefined ? { code: e.code } : {}) } });
  });
});
