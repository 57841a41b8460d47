// The bundled price data of @pydantic/genai-prices, as per-token prices for one deployment.
//
// The package is only a data set and a lookup: it never fetches anything unless updatePrices()
// is given a fetching factory, which Tollgate never does, so prices are the ones of the
// installed (exactly pinned) version and change only with an upgrade. It is loaded on first
// use, synchronously (its CommonJS build), so a gateway whose deployments it cannot price
// (simulator, vllm, ollama, openai_compatible) never pays for it (~6 MB resident).
//
// A lookup is made once per deployment, when its price is resolved (price-table.ts), never per
// request.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type * as GenaiPrices from '@pydantic/genai-prices';
import type { Deployment } from '../../providers/types.ts';

const require = createRequire(import.meta.url);
const PACKAGE = '@pydantic/genai-prices';

let lib: typeof GenaiPrices | undefined;
function load(): typeof GenaiPrices {
  return (lib ??= require(PACKAGE) as typeof GenaiPrices);
}

let version: string | undefined;
/** The installed package's version (read from its package.json; the data is not loaded). */
export function packageVersion(): string {
  if (version === undefined) {
    const main = require.resolve(PACKAGE); // …/dist/index.cjs
    version = String((JSON.parse(readFileSync(join(dirname(main), '..', 'package.json'), 'utf8')) as { version: unknown }).version);
  }
  return version;
}

/** Tollgate provider → the package's provider id. Self-hosted and generic providers have no list price. */
const PACKAGE_PROVIDER: Readonly<Record<string, string>> = {
  openai: 'openai',
  azure: 'azure', // its own entries, falling back to OpenAI's for the OpenAI models it hosts
  anthropic: 'anthropic',
  groq: 'groq',
  mistral: 'mistral',
  openrouter: 'openrouter',
  together: 'together',
};

/** LiteLLM's prefix for each provider, as `model_info.base_model` may carry it ("azure/gpt-4o"). */
const LITELLM_PREFIX: Readonly<Record<string, string>> = {
  openai: 'openai/',
  azure: 'azure/',
  anthropic: 'anthropic/',
  groq: 'groq/',
  mistral: 'mistral/',
  openrouter: 'openrouter/',
  together: 'together_ai/',
};

/** A price as the package writes it: USD per million tokens, flat or by input size. */
export type MtokPrice = number | { readonly base: number; readonly tiers: ReadonlyArray<{ readonly start: number; readonly price: number }> };

/** The package's prices for one model, in the fields Tollgate prices (per million tokens; per request in USD). */
export interface PackagePrices {
  readonly input?: MtokPrice;
  readonly output?: MtokPrice;
  readonly cacheRead?: MtokPrice;
  readonly cacheWrite?: MtokPrice;
  readonly reasoning?: MtokPrice;
  readonly perRequest?: number;
}

/** One of the model's prices and the time it applies from (the package's start_date constraint). */
export interface ScheduledPrices {
  /** Epoch ms; undefined: no start (the model's first or only price). */
  readonly from?: number;
  readonly prices: PackagePrices;
}

export interface PackageMatch {
  /** The package's `provider/model` that matched, e.g. "anthropic/claude-sonnet-4-5". */
  readonly id: string;
  /** In the package's order: the last entry whose start has passed applies, else the first. */
  readonly schedule: readonly ScheduledPrices[];
}

/** The package's provider id and model name for a deployment, or undefined when it has no list price. */
export function packageKey(dep: Pick<Deployment, 'provider' | 'model' | 'modelInfo'>): { providerId: string; model: string } | undefined {
  const providerId = PACKAGE_PROVIDER[dep.provider];
  if (!providerId) return undefined;
  const base = dep.modelInfo.base_model;
  let model = typeof base === 'string' && base.trim() !== '' ? base.trim() : dep.model;
  const prefix = LITELLM_PREFIX[dep.provider]!;
  if (model.toLowerCase().startsWith(prefix)) model = model.slice(prefix.length);
  return { providerId, model };
}

/**
 * The package's prices for the deployment's model, or undefined when the package does not list
 * it. Throws only if the package's own data is malformed (the caller treats that as no price).
 */
export function lookUpPackagePrices(dep: Pick<Deployment, 'provider' | 'model' | 'modelInfo'>): PackageMatch | undefined {
  const key = packageKey(dep);
  if (!key) return undefined;
  // calcPrice with empty usage is the package's own model matching (dated ids, fallback
  // providers); the result carries the model's full price list, not just today's.
  const found = load().calcPrice({}, key.model, { providerId: key.providerId });
  if (!found) return undefined;
  const list: ReadonlyArray<GenaiPrices.ConditionalPrice> = Array.isArray(found.model.prices) ? found.model.prices : [{ prices: found.model.prices }];
  const schedule: ScheduledPrices[] = [];
  for (const entry of list) {
    const constraint = entry.constraint;
    if (constraint === undefined) schedule.push({ prices: fields(entry.prices) });
    else if ('start_date' in constraint && typeof constraint.start_date === 'string') {
      schedule.push({ from: Date.parse(`${constraint.start_date}T00:00:00Z`), prices: fields(entry.prices) });
    }
    // time_of_date (off-peak discounts) is not used by any provider mapped above; such an entry
    // never applies, so the regular price is charged.
  }
  if (schedule.length === 0) return undefined;
  return { id: `${found.provider.id}/${found.model.id}`, schedule };
}

function fields(prices: GenaiPrices.ModelPrice): PackagePrices {
  const out: { -readonly [K in keyof PackagePrices]: PackagePrices[K] } = {};
  const take = (key: string): MtokPrice | undefined => {
    const value = prices[key];
    if (typeof value === 'number') return value;
    if (value && typeof value === 'object' && typeof value.base === 'number' && Array.isArray(value.tiers)) {
      return { base: value.base, tiers: [...value.tiers].sort((a, b) => a.start - b.start) };
    }
    return undefined;
  };
  const input = take('input_mtok');
  const output = take('output_mtok');
  const cacheRead = take('cache_read_mtok');
  // The 5-minute (default) cache write; usage does not say which TTL a write used.
  const cacheWrite = take('cache_write_mtok');
  const reasoning = take('output_reasoning_mtok');
  const requests = take('requests_kcount');
  if (input !== undefined) out.input = input;
  if (output !== undefined) out.output = output;
  if (cacheRead !== undefined) out.cacheRead = cacheRead;
  if (cacheWrite !== undefined) out.cacheWrite = cacheWrite;
  if (reasoning !== undefined) out.reasoning = reasoning;
  if (requests !== undefined) out.perRequest = (typeof requests === 'number' ? requests : requests.base) / 1_000;
  return out;
}
