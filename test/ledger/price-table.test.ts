// The price table: list prices from @pydantic/genai-prices by provider and model, config
// overrides, every usage token priced exactly once (cached, cache-write, reasoning), long-context
// tiers and dated price changes, priceMissing, the version string, and no network.
//
// Expected amounts are computed by hand from the package's per-million prices (quoted beside
// each), and cross-checked against the package's own calcPrice.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import * as genaiPrices from '@pydantic/genai-prices';
import { parseConfig } from '../../src/config/load-config.ts';
import { createPriceTable, PRICE_MISSING_METRIC, priceMissingCounter, type PriceTable } from '../../src/ledger/pricing/price-table.ts';
import { plainUsage } from '../../src/limits/cost.ts';
import { usageFromAnthropic } from '../../src/providers/anthropic/anthropic-to-chat.ts';
import { usageFromOpenAI } from '../../src/providers/shared/usage.ts';
import type { Deployment, Usage } from '../../src/providers/types.ts';
import { Metrics } from '../../src/telemetry/metrics.ts';

function deployment(id: string, over: Partial<Deployment> & Pick<Deployment, 'provider' | 'model'>): Deployment {
  return {
    id, alias: 'chat', headers: {}, weight: 1, timeoutMs: 30_000, streamTimeoutMs: 30_000, connectTimeoutMs: 10_000,
    order: 1, healthCheck: true, dropParams: false, modelInfo: {}, ...over,
  };
}

function usage(over: Partial<Usage>): Usage {
  const u = { inputTokens: 0, outputTokens: 0, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0, totalTokens: 0, ...over };
  return { ...u, totalTokens: u.inputTokens + u.outputTokens };
}

/** Dollars compared at 1e-12 (the table rounds to that). */
function near(actual: number, expected: number, message?: string): void {
  assert.ok(Math.abs(actual - expected) < 1e-12, `${message ?? ''} ${actual} ≠ ${expected}`);
}

const mini = deployment('mini', { provider: 'openai', model: 'gpt-4o-mini' });
const sonnet = deployment('sonnet', { provider: 'anthropic', model: 'claude-sonnet-4-5' });
const sonnetDated = deployment('sonnet-dated', { provider: 'anthropic', model: 'claude-sonnet-4-5-20250929' });
const haiku = deployment('haiku', { provider: 'anthropic', model: 'claude-haiku-4-5' });
const azure = deployment('azure-prod', { provider: 'azure', model: 'prod-4o', modelInfo: { base_model: 'azure/gpt-4o' } });
const azureBare = deployment('azure-bare', { provider: 'azure', model: 'prod-4o' });
const deepResearch = deployment('deep-research', { provider: 'openrouter', model: 'perplexity/sonar-deep-research' });
const groq = deployment('groq', { provider: 'groq', model: 'llama-3.3-70b-versatile' });
const table = createPriceTable([mini, sonnet, sonnetDated, haiku, azure, azureBare, deepResearch, groq]);

test('openai gpt-4o-mini: the package list price ($0.15 in, $0.075 cached, $0.60 out per Mtok)', () => {
  const price = table.priceOf(mini)!;
  assert.equal(price.packageModel, 'openai/gpt-4o-mini');
  near(price.input, 0.15e-6);
  near(price.cacheRead, 0.075e-6);
  near(price.cacheWrite, 0.15e-6, 'no cache-write price: the input price, as in the package');
  near(price.output, 0.6e-6);
  near(price.reasoning, 0.6e-6, 'no reasoning price: the output price');
  assert.equal(price.perRequest, 0);
  assert.deepEqual(price.tiers, []);
  assert.deepEqual(price.overrides, []);
  assert.equal(table.isPriced(mini), true);
});

test('openai: cached input at the cache-read price, the rest at the input price; reasoning is output', () => {
  // 10 000 input of which 4 000 cached, 2 000 output of which 500 reasoning (as OpenAI reports them).
  const u = usageFromOpenAI({ prompt_tokens: 10_000, completion_tokens: 2_000, total_tokens: 12_000, prompt_tokens_details: { cached_tokens: 4_000 }, completion_tokens_details: { reasoning_tokens: 500 } })!;
  // input 6 000 × 0.15 + 4 000 × 0.075 = 900 + 300 µ$; output 2 000 × 0.60 = 1 200 µ$.
  assert.deepEqual(table.cost(mini, u), { inputUsd: 0.0012, outputUsd: 0.0012, totalUsd: 0.0024, priceMissing: false });
  assert.equal(table.costMicroUsd(mini, u), 2_400);
  // 1 uncached input token: 0.15 µ$, rounded up to 1 µ$ for budgets.
  assert.equal(table.costMicroUsd(mini, plainUsage(1, 0)), 1);
  assert.equal(table.cost(mini, plainUsage(1, 0)).inputUsd, 1.5e-7);
});

test('anthropic claude-sonnet-4-5 (and its dated id): cache reads and writes priced exactly once', () => {
  assert.equal(table.priceOf(sonnet)!.packageModel, 'anthropic/claude-sonnet-4-5');
  assert.equal(table.priceOf(sonnetDated)!.packageModel, 'anthropic/claude-sonnet-4-5');
  // Anthropic's input_tokens excludes cache reads and writes; Tollgate's Usage includes them.
  const u = usageFromAnthropic({ input_tokens: 2_000, cache_read_input_tokens: 6_000, cache_creation_input_tokens: 2_000, output_tokens: 1_000 })!;
  assert.equal(u.inputTokens, 10_000);
  // $3 in, $0.30 cache read, $3.75 cache write, $15 out per Mtok:
  // 2 000 × 3 + 6 000 × 0.3 + 2 000 × 3.75 = 6 000 + 1 800 + 7 500 µ$; 1 000 × 15 = 15 000 µ$.
  assert.deepEqual(table.cost(sonnet, u), { inputUsd: 0.0153, outputUsd: 0.015, totalUsd: 0.0303, priceMissing: false });
  assert.equal(table.costMicroUsd(sonnet, u), 30_300);
  assert.deepEqual(table.cost(sonnetDated, u), table.cost(sonnet, u));
});

test('anthropic claude-haiku-4-5: $1 in, $0.10 cache read, $1.25 cache write, $5 out', () => {
  const u = usageFromAnthropic({ input_tokens: 100, cache_read_input_tokens: 10_000, cache_creation_input_tokens: 1_000, output_tokens: 400 })!;
  // 100 × 1 + 10 000 × 0.1 + 1 000 × 1.25 = 100 + 1 000 + 1 250 µ$; 400 × 5 = 2 000 µ$.
  assert.deepEqual(table.cost(haiku, u), { inputUsd: 0.00235, outputUsd: 0.002, totalUsd: 0.00435, priceMissing: false });
});

test('long context: past 200k input tokens the whole call is priced at the tier ($6 in, $22.50 out)', () => {
  const price = table.priceOf(sonnet)!;
  assert.equal(price.tiers.length, 1);
  assert.equal(price.tiers[0]!.aboveInputTokens, 200_000);
  // 250 000 × 6 µ$ + 1 000 × 22.5 µ$
  assert.deepEqual(table.cost(sonnet, plainUsage(250_000, 1_000)), { inputUsd: 1.5, outputUsd: 0.0225, totalUsd: 1.5225, priceMissing: false });
  // exactly 200 000 is not past the tier start: 200 000 × 3 + 1 000 × 15 µ$
  assert.deepEqual(table.cost(sonnet, plainUsage(200_000, 1_000)), { inputUsd: 0.6, outputUsd: 0.015, totalUsd: 0.615, priceMissing: false });
});

test('a dated price change applies from its start date (claude-opus-4-6: tiered, then flat from 2026-03-13)', () => {
  const opus = deployment('opus', { provider: 'anthropic', model: 'claude-opus-4-6' });
  const before = Date.UTC(2026, 2, 12, 23, 59);
  const after = Date.UTC(2026, 2, 13);
  assert.equal(table.priceOf(opus, before)!.tiers.length, 1);
  assert.equal(table.priceOf(opus, after)!.tiers.length, 0);
  // 300 000 input × ($10 before, $5 after) per Mtok
  assert.equal(table.cost(opus, plainUsage(300_000, 0), before).totalUsd, 3);
  assert.equal(table.cost(opus, plainUsage(300_000, 0), after).totalUsd, 1.5);
  // the table's clock picks it when no time is given
  const clocked = createPriceTable([opus], { now: () => before });
  assert.equal(clocked.cost(opus, plainUsage(300_000, 0)).totalUsd, 3);
});

test('a reasoning price, where the package has one (openrouter perplexity/sonar-deep-research: $2 in, $8 out, $3 reasoning)', () => {
  const u = usage({ inputTokens: 1_000, outputTokens: 5_000, reasoningTokens: 4_000 });
  // 1 000 × 2 µ$; 1 000 × 8 + 4 000 × 3 µ$
  assert.deepEqual(table.cost(deepResearch, u), { inputUsd: 0.002, outputUsd: 0.02, totalUsd: 0.022, priceMissing: false });
});

test('azure: model_info.base_model ("azure/gpt-4o") names the model; a bare Azure deployment name has no price', () => {
  const price = table.priceOf(azure)!;
  assert.equal(price.packageModel, 'azure/gpt-4o');
  near(price.input, 2.5e-6);
  near(price.cacheRead, 1.25e-6);
  near(price.output, 10e-6);
  const plain = deployment('azure-plain', { provider: 'azure', model: 'gpt-4o' });
  assert.equal(table.priceOf(plain)!.packageModel, 'azure/gpt-4o', 'an Azure deployment named after its model needs no base_model');
  assert.equal(table.priceOf(azureBare), undefined);
  assert.deepEqual(table.cost(azureBare, plainUsage(1_000, 1_000)), { inputUsd: 0, outputUsd: 0, totalUsd: 0, priceMissing: true });
});

test('other providers map to the package by name (groq llama-3.3-70b-versatile: $0.59 in, $0.79 out)', () => {
  assert.equal(table.priceOf(groq)!.packageModel, 'groq/llama-3.3-70b-versatile');
  assert.deepEqual(table.cost(groq, plainUsage(1_000_000, 1_000_000)), { inputUsd: 0.59, outputUsd: 0.79, totalUsd: 1.38, priceMissing: false });
  for (const [provider, model] of [['mistral', 'mistral-large-latest'], ['openrouter', 'openai/gpt-4o'], ['together', 'meta-llama/Llama-3.3-70B-Instruct-Turbo']] as const) {
    assert.ok(table.priceOf(deployment(`${provider}-x`, { provider, model })), `${provider} ${model}`);
  }
});

test('unknown models and self-hosted providers: zero cost with priceMissing (never a silent $0)', () => {
  const unknown = [
    deployment('u1', { provider: 'openai', model: 'gpt-does-not-exist' }),
    deployment('u2', { provider: 'simulator', model: 'gpt-4o-mini' }),
    deployment('u3', { provider: 'vllm', model: 'gpt-4o-mini' }),
    deployment('u4', { provider: 'ollama', model: 'llama3' }),
    deployment('u5', { provider: 'openai_compatible', model: 'gpt-4o' }),
    // only a cache price in config: not enough to price a call
    deployment('u6', { provider: 'vllm', model: 'x', cacheReadInputTokenCost: 1e-7 }),
  ];
  for (const dep of unknown) {
    assert.equal(table.priceOf(dep), undefined, dep.id);
    assert.equal(table.isPriced(dep), false, dep.id);
    assert.deepEqual(table.cost(dep, plainUsage(1_000, 1_000)), { inputUsd: 0, outputUsd: 0, totalUsd: 0, priceMissing: true }, dep.id);
    assert.equal(table.costMicroUsd(dep, plainUsage(1_000, 1_000)), 0, dep.id);
  }
});

test('config overrides replace the package price field by field; what is not overridden stays', () => {
  const dep = deployment('mini-discount', { provider: 'openai', model: 'gpt-4o-mini', inputCostPerToken: 0.1e-6, cacheCreationInputTokenCost: 0.2e-6, inputCostPerRequest: 0.001 });
  const price = createPriceTable([dep]).priceOf(dep)!;
  assert.equal(price.packageModel, 'openai/gpt-4o-mini');
  assert.deepEqual(price.overrides, ['input_cost_per_token', 'cache_creation_input_token_cost', 'input_cost_per_request']);
  assert.equal(price.input, 0.1e-6);
  near(price.cacheRead, 0.075e-6, 'the package cache-read price stays');
  assert.equal(price.cacheWrite, 0.2e-6);
  near(price.output, 0.6e-6);
  assert.equal(price.perRequest, 0.001);
  // 1 000 uncached × 0.1 + 2 000 cached × 0.075 + 500 written × 0.2 µ$ + $0.001 per request; 100 × 0.6 µ$
  const u = usage({ inputTokens: 3_500, cachedInputTokens: 2_000, cacheWriteTokens: 500, outputTokens: 100 });
  assert.deepEqual(createPriceTable([dep]).cost(dep, u), { inputUsd: 0.00135, outputUsd: 0.00006, totalUsd: 0.00141, priceMissing: false });
});

test('an overridden price is flat: the package tiers no longer apply to it', () => {
  const dep = deployment('sonnet-flat-in', { provider: 'anthropic', model: 'claude-sonnet-4-5', inputCostPerToken: 2e-6 });
  const t = createPriceTable([dep]);
  // 250 000 × 2 µ$ (overridden, flat); output at the package's long-context tier: 1 000 × 22.5 µ$
  assert.deepEqual(t.cost(dep, plainUsage(250_000, 1_000)), { inputUsd: 0.5, outputUsd: 0.0225, totalUsd: 0.5225, priceMissing: false });
});

test('config alone prices a model the package does not know; cache prices default to the input price', () => {
  const dep = deployment('local', { provider: 'vllm', model: 'my-model', inputCostPerToken: 1e-6, outputCostPerToken: 2e-6 });
  const t = createPriceTable([dep]);
  const price = t.priceOf(dep)!;
  assert.equal(price.packageModel, undefined);
  assert.deepEqual({ ...price, tiers: [...price.tiers], overrides: [...price.overrides] }, {
    input: 1e-6, output: 2e-6, cacheRead: 1e-6, cacheWrite: 1e-6, reasoning: 2e-6, perRequest: 0, tiers: [], packageModel: undefined,
    overrides: ['input_cost_per_token', 'output_cost_per_token'],
  });
  const withCache = deployment('local-cache', { provider: 'vllm', model: 'my-model', inputCostPerToken: 1e-6, outputCostPerToken: 2e-6, cacheReadInputTokenCost: 0.25e-6 });
  // 600 uncached × 1 + 400 cached × 0.25 µ$; 10 × 2 µ$
  assert.deepEqual(t.cost(withCache, usage({ inputTokens: 1_000, cachedInputTokens: 400, outputTokens: 10 })), { inputUsd: 0.0007, outputUsd: 0.00002, totalUsd: 0.00072, priceMissing: false });
});

test('inconsistent usage never prices a token twice (cached + written capped at the input, reasoning at the output)', () => {
  const u = usage({ inputTokens: 100, cachedInputTokens: 80, cacheWriteTokens: 80, outputTokens: 10, reasoningTokens: 50 });
  // 80 cached × 0.3 + 20 written × 3.75 µ$; 10 output × 15 µ$
  assert.deepEqual(table.cost(sonnet, u), { inputUsd: 0.000099, outputUsd: 0.00015, totalUsd: 0.000249, priceMissing: false });
  assert.deepEqual(table.cost(sonnet, usage({ inputTokens: -5, outputTokens: Number.NaN })), { inputUsd: 0, outputUsd: 0, totalUsd: 0, priceMissing: false });
});

test('the same amounts as the package\'s own calcPrice', () => {
  const cases: Array<[Deployment, Usage]> = [
    [mini, usage({ inputTokens: 123_456, cachedInputTokens: 100_000, outputTokens: 7_890, reasoningTokens: 1_000 })],
    [sonnet, usage({ inputTokens: 50_000, cachedInputTokens: 30_000, cacheWriteTokens: 10_000, outputTokens: 2_345 })],
    [sonnet, usage({ inputTokens: 450_000, cachedInputTokens: 300_000, cacheWriteTokens: 100_000, outputTokens: 12_345 })],
    [haiku, usage({ inputTokens: 9_999, cacheWriteTokens: 9_000, outputTokens: 1 })],
    [azure, usage({ inputTokens: 77_777, cachedInputTokens: 7_777, outputTokens: 777 })],
    [deepResearch, usage({ inputTokens: 3_000, outputTokens: 9_000, reasoningTokens: 6_000 })],
    [groq, usage({ inputTokens: 31_337, outputTokens: 4_242 })],
  ];
  for (const [dep, u] of cases) {
    const model = (dep.modelInfo.base_model as string | undefined)?.replace(/^azure\//, '') ?? dep.model;
    const expected = genaiPrices.calcPrice({
      input_tokens: u.inputTokens, cache_read_tokens: u.cachedInputTokens, cache_write_tokens: u.cacheWriteTokens,
      output_tokens: u.outputTokens, output_reasoning_tokens: u.reasoningTokens,
    }, model, { providerId: dep.provider })!;
    const actual = table.cost(dep, u);
    assert.ok(Math.abs(actual.totalUsd - expected.total_price) <= 1e-11 * Math.max(1, expected.total_price), `${dep.id}: ${actual.totalUsd} vs ${expected.total_price}`);
    assert.ok(Math.abs(actual.inputUsd - expected.input_price) <= 1e-11 * Math.max(1, expected.input_price), `${dep.id} input`);
  }
});

test('resolved once per deployment: the request path reads the memoised price', () => {
  const dep = deployment('memo', { provider: 'openai', model: 'gpt-4o-mini' });
  const t = createPriceTable([dep]);
  const first = t.priceOf(dep);
  assert.equal(t.priceOf(dep), first, 'the same object every time');
  const started = performance.now();
  for (let i = 0; i < 100_000; i++) t.cost(dep, plainUsage(i, i));
  assert.ok(performance.now() - started < 1_000, 'no package search per call');
});

test('version: genai-prices@<package version>+<hash of the overrides>, stable for the same config', () => {
  const require = createRequire(import.meta.url);
  const pkg = JSON.parse(readFileSync(join(dirname(require.resolve('@pydantic/genai-prices')), '..', 'package.json'), 'utf8')) as { version: string };
  const a = deployment('a', { provider: 'openai', model: 'gpt-4o-mini', inputCostPerToken: 1e-7 });
  const b = deployment('b', { provider: 'vllm', model: 'x', inputCostPerToken: 1e-6, outputCostPerToken: 2e-6 });
  const c = deployment('c', { provider: 'anthropic', model: 'claude-haiku-4-5' });
  const version = createPriceTable([a, b, c]).version;
  assert.match(version, new RegExp(`^genai-prices@${pkg.version.replaceAll('.', '\\.')}\\+[0-9a-f]{8}$`));
  assert.equal(createPriceTable([a, b, c]).version, version, 'same config, same version');
  assert.equal(createPriceTable([c, b, { ...a }]).version, version, 'order and object identity do not matter');
  assert.equal(createPriceTable([a, b]).version, version, 'a deployment without overrides does not change it');
  assert.notEqual(createPriceTable([{ ...a, inputCostPerToken: 2e-7 }, b, c]).version, version, 'a changed override changes it');
  assert.notEqual(createPriceTable([{ ...a, inputCostPerRequest: 0 }, b, c]).version, version, 'a new override changes it');
  assert.notEqual(createPriceTable([{ ...a, id: 'a2' }, b, c]).version, version, 'the deployment an override belongs to matters');
  assert.match(createPriceTable([]).version, /^genai-prices@[^+]+\+[0-9a-f]{8}$/);
});

test('no network: the package build fetches nothing and pricing works with fetch disabled', async () => {
  const require = createRequire(import.meta.url);
  const dist = dirname(require.resolve('@pydantic/genai-prices'));
  for (const file of ['index.cjs', 'index.js']) {
    const code = readFileSync(join(dist, file), 'utf8');
    assert.doesNotMatch(code, /\bfetch\s*\(|XMLHttpRequest|require\(\s*["'](node:)?(https?|net)["']\)/, `${file} has no network calls`);
  }
  const realFetch = globalThis.fetch;
  let fetched = 0;
  globalThis.fetch = (async () => { fetched++; throw new Error('no network in tests'); }) as typeof fetch;
  try {
    const dep = deployment('offline', { provider: 'anthropic', model: 'claude-haiku-4-5' });
    const t: PriceTable = createPriceTable([dep]);
    assert.equal(t.cost(dep, plainUsage(1_000_000, 0)).totalUsd, 1);
    // The package's auto-update only runs through updatePrices(), which Tollgate never calls: the bundled data is in use.
    assert.ok(Array.isArray(await genaiPrices.waitForUpdate()));
  } finally {
    globalThis.fetch = realFetch;
  }
  assert.equal(fetched, 0);
});

test('tollgate_ledger_price_missing_total{deployment}: registered by the helper, incremented by the caller', async () => {
  const metrics = new Metrics();
  const counter = priceMissingCounter(metrics);
  assert.equal(priceMissingCounter(metrics), counter, 'registering twice returns the same counter');
  const dep = deployment('nowhere', { provider: 'ollama', model: 'llama3' });
  if (table.cost(dep, plainUsage(10, 10)).priceMissing) counter.inc({ deployment: dep.id });
  assert.equal(counter.get({ deployment: 'nowhere' }), 1);
  assert.match(await metrics.render(), new RegExp(`${PRICE_MISSING_METRIC}\\{deployment="nowhere"\\} 1`));
});

test('config: the price fields load (native and LiteLLM names), and the unpriced warning knows the package', () => {
  const native = parseConfig(`models:
  chat:
    deployments:
      - { id: listed, provider: openai, model: gpt-4o-mini, api_key: os.environ/K }
      - { id: azure-named, provider: azure, model: prod, api_key: os.environ/K, api_base: "https://x.openai.azure.com", api_version: "2024-10-21", model_info: { base_model: azure/gpt-4o } }
      - { id: local, provider: vllm, model: m, api_base: "http://127.0.0.1:9", input_cost_per_token: 1.0e-6, output_cost_per_token: 2.0e-6, cache_read_input_token_cost: 2.5e-7, cache_creation_input_token_cost: 1.25e-6, input_cost_per_request: 0.01 }
      - { id: half, provider: vllm, model: m, api_base: "http://127.0.0.1:9", input_cost_per_token: 1.0e-6 }
      - { id: nothing, provider: simulator, model: m }
limits: { global: { max_budget: 10 } }
`, 'prices.yaml', { env: { K: 'sk-test' } });
  const deps = native.aliases.get('chat')!.deployments;
  const local = deps.find((d) => d.id === 'local')!;
  assert.deepEqual([local.cacheReadInputTokenCost, local.cacheCreationInputTokenCost, local.inputCostPerRequest], [2.5e-7, 1.25e-6, 0.01]);
  const warning = native.warnings.find((w) => w.includes('count as $0'))!;
  assert.match(warning, /deployments half, nothing have no input_cost_per_token\/output_cost_per_token and genai-prices@/);
  assert.doesNotMatch(warning, /listed|azure-named|local/, 'priced by the package (or fully by config): no warning');

  const litellm = parseConfig(`model_list:
  - model_name: chat
    litellm_params: { model: hosted_vllm/m, api_base: "http://127.0.0.1:9", input_cost_per_token: 1.0e-6, output_cost_per_token: 2.0e-6, cache_read_input_token_cost: 2.5e-7, cache_creation_input_token_cost: 1.25e-6, input_cost_per_request: 0.01 }
`, 'litellm.yaml', { env: {} });
  const imported = litellm.aliases.get('chat')!.deployments[0]!;
  assert.deepEqual([imported.cacheReadInputTokenCost, imported.cacheCreationInputTokenCost, imported.inputCostPerRequest], [2.5e-7, 1.25e-6, 0.01]);
  assert.deepEqual(litellm.warnings.filter((w) => w.includes('cost')), [], 'the three LiteLLM price keys are supported');
});
