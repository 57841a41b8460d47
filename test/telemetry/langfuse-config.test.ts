import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatIssues } from '../../src/config/format-issues.ts';
import { langfuseSchema } from '../../src/config/langfuse-schema.ts';
import { createLogger } from '../../src/logging/logger.ts';
import { openLangfuseExporter } from '../../src/telemetry/langfuse/open-langfuse-exporter.ts';

function problems(input: unknown): string[] {
  const parsed = langfuseSchema.safeParse(input);
  return parsed.success ? [] : formatIssues(langfuseSchema, parsed.error.issues, input);
}

const KEYS = { public_key: 'pk-lf-1234', secret_key: 'sk-lf-5678' };

test('absent or empty, the section is off with the documented defaults', () => {
  for (const input of [undefined, {}]) {
    assert.deepEqual(langfuseSchema.parse(input), {
      enabled: false, host: 'https://cloud.langfuse.com', flush_interval_ms: 1000, batch_size: 100, max_queue: 10_000,
      timeout_ms: 10_000, max_retries: 3, max_text_chars: 100_000,
    });
  }
});

test('enabled: both keys are required, and each problem says how to fix it', () => {
  const found = problems({ enabled: true });
  assert.equal(found.length, 2);
  assert.match(found[0]!, /^public_key: is required when langfuse.enabled is true.*os\.environ\/LANGFUSE_PUBLIC_KEY/);
  assert.match(found[1]!, /^secret_key: is required .*os\.environ\/LANGFUSE_SECRET_KEY/);
  assert.deepEqual(problems({ enabled: false }), [], 'off: keys may be missing');
});

test('a full section, with numbers and booleans from environment references', () => {
  const parsed = langfuseSchema.parse({
    enabled: 'true', host: 'https://langfuse.internal.example/langfuse/', ...KEYS, environment: 'production', release: '2026.12.1',
    flush_interval_ms: '500', batch_size: 50, max_queue: 2000, timeout_ms: 5000, max_retries: 0, max_text_chars: 20_000,
  });
  assert.equal(parsed.enabled, true);
  assert.equal(parsed.host, 'https://langfuse.internal.example/langfuse', 'no trailing slash: the exporter appends /api/public/ingestion');
  assert.equal(parsed.flush_interval_ms, 500);
  assert.equal(parsed.max_retries, 0);
});

test('refused values: bad host, credentials in the URL, swapped keys, a Langfuse-invalid environment, unknown keys', () => {
  assert.match(problems({ host: 'cloud.langfuse.com' }).join('\n'), /host: must be an http\(s\) URL/);
  assert.match(problems({ host: 'ftp://cloud.langfuse.com' }).join('\n'), /host: must be an http\(s\) URL/);
  assert.match(problems({ host: 'https://pk:sk@cloud.langfuse.com' }).join('\n'), /host: must not carry credentials/);
  assert.match(problems({ enabled: true, public_key: 'sk-lf-1', secret_key: 'pk-lf-2' }).join('\n'), /public_key: looks like a secret key[\s\S]*secret_key: looks like a public key/);
  assert.match(problems({ ...KEYS, secret_key: 'sk-lf-5678\n' }).join('\n'), /secret_key: secret_key must be printable characters/);
  assert.match(problems({ environment: 'langfuse-prod' }).join('\n'), /environment: must be 1-40 lower-case/);
  assert.match(problems({ environment: 'Production' }).join('\n'), /environment: must be 1-40 lower-case/);
  assert.match(problems({ batch_size: 0 }).join('\n'), /batch_size: must be a whole number from 1 to 1000/);
  assert.match(problems({ flush_interval: 1000 }).join('\n'), /unknown key "flush_interval".*flush_interval_ms/);
  assert.ok(!problems({ enabled: true, public_key: 'sk-lf-1', secret_key: 'pk-lf-2' }).join('\n').includes('sk-lf-1'), 'values are not echoed');
});

test('openLangfuseExporter: none when off; an exporter named "langfuse" when on', async () => {
  const logger = createLogger({ level: 'error', write: () => {} });
  assert.equal(openLangfuseExporter(langfuseSchema.parse({}), { logger }), undefined);
  const exporter = openLangfuseExporter(langfuseSchema.parse({ enabled: true, host: 'http://127.0.0.1:9', ...KEYS }), { logger });
  assert.equal(exporter?.name, 'langfuse');
  await exporter!.close();
});
