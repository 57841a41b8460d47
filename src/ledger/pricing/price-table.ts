// The price table: what a call on a deployment costs, in US dollars, for the ledger and (as
// integer micro-dollars) for budgets and cost caps.
//
// Prices come from @pydantic/genai-prices (genai-prices.ts) by the deployment's provider and
// model (or `model_info.base_model`), then each price the deployment sets in config replaces the
// package's: input_cost_per_token, output_cost_per_token, cache_read_input_token_cost,
// cache_creation_input_token_cost, input_cost_per_request (LiteLLM's names). A deployment's
// price is resolved once, when the table is created (config deployments) or on first use (any
// other Deployment object), and memoised by the object: a request only reads it.
//
// How usage is priced (Usage counts cached and cache-write tokens inside inputTokens, and
// reasoning tokens inside outputTokens, for every provider: src/providers/shared/usage.ts and
// the Anthropic conversion), so every token is priced exactly once:
//   input  = (inputTokens − cached − cacheWrite) × input + cached × cacheRead
//            + cacheWrite × cacheWrite price + per-request price
//   output = (outputTokens − reasoning) × output + reasoning × reasoning price
// A price the package and config do not give falls back as the package itself does: cache
// reads and writes at the input price, reasoning at the output price (an overridden output price
// applies to reasoning too). Long-context tiers: a call whose input tokens (cached included)
// exceed a tier's start is priced entirely at that tier, as the package does. A model's dated
// price changes (start_date) are kept and chosen by the call's time.
//
// A deployment with no price (no package entry, no input or output price in config) costs 0
// with `priceMissing: true`: never a silent $0. The ledger counts those calls in
// tollgate_ledger_price_missing_total{deployment}: the table does not touch metrics; the caller
// increments the counter from priceMissingCounter() when cost() says priceMissing.

import { createHash } from 'node:crypto';
import { microUsdCeil } from '../../limits/cost.ts';
import type { Logger } from '../../logging/logger.ts';
import type { Deployment, Usage } from '../../providers/types.ts';
import type { Counter, Metrics } from '../../telemetry/metrics.ts';
import { lookUpPackagePrices, packageVersion, type MtokPrice, type PackagePrices } from './genai-prices.ts';

/** US dollars per token. */
export interface TokenPrices {
  /** Input tokens neither read from nor written to the prompt cache. */
  readonly input: number;
  readonly output: number;
  /** Cached input tokens read. */
  readonly cacheRead: number;
  /** Input tokens written to the prompt cache. */
  readonly cacheWrite: number;
  /** Reasoning (thinking) tokens, part of the output. */
  readonly reasoning: number;
}

export interface PriceTier extends TokenPrices {
  /** These prices apply to a call with more input tokens (cached ones included) than this. */
  readonly aboveInputTokens: number;
}

export interface ModelPrice extends TokenPrices {
  /** US dollars per request, on top of the tokens (counted as input cost). */
  readonly perRequest: number;
  /** Long-context prices, by ascending aboveInputTokens; the last one a call exceeds applies. Usually empty. */
  readonly tiers: readonly PriceTier[];
  /** The package's `provider/model` the prices came from; undefined when config alone prices it. */
  readonly packageModel: string | undefined;
  /** The config price fields that replaced the package's (LiteLLM's names). */
  readonly overrides: readonly PriceOverride[];
}

export type PriceOverride = 'input_cost_per_token' | 'output_cost_per_token' | 'cache_read_input_token_cost' | 'cache_creation_input_token_cost' | 'input_cost_per_request';

/** What one call cost, in US dollars (rounded to 1e-12). */
export interface CallCost {
  readonly inputUsd: number;
  readonly outputUsd: number;
  readonly totalUsd: number;
  /** No price is known for the deployment's model: the amounts are 0, but not "free". */
  readonly priceMissing: boolean;
}

export interface PriceTable {
  /** price_table_version: `genai-prices@<package version>+<hash of the config's price overrides>`. */
  readonly version: string;
  /** The deployment's prices in effect at `at` (epoch ms, default now), or undefined when it has none. */
  priceOf(dep: Deployment, at?: number): ModelPrice | undefined;
  /** Whether the table has a price for the deployment (budgets count its calls). */
  isPriced(dep: Deployment): boolean;
  /** A call's cost from its usage; a deployment without a price costs 0 with priceMissing. */
  cost(dep: Deployment, usage: Usage, at?: number): CallCost;
  /** The same cost in whole micro-dollars, rounded up (budgets and cost caps; see src/limits/cost.ts). */
  costMicroUsd(dep: Deployment, usage: Usage, at?: number): number;
}

export interface PriceTableOptions {
  /** The clock that picks a model's dated price (epoch ms; default Date.now). */
  readonly now?: () => number;
  /** Told when the package fails to look a model up (the deployment is then priced by config alone). */
  readonly logger?: Logger;
}

export const PRICE_MISSING_METRIC = 'tollgate_ledger_price_missing_total';
const PRICE_MISSING_HELP = 'Calls recorded with cost 0 because no price is known for the deployment\'s model (by deployment).';

/**
 * tollgate_ledger_price_missing_total{deployment}: the caller (the ledger) increments it with
 * `{ deployment: dep.id }` for each call whose cost() has priceMissing. Registering twice returns
 * the same counter.
 */
export function priceMissingCounter(metrics: Metrics): Counter {
  return metrics.counter(PRICE_MISSING_METRIC, PRICE_MISSING_HELP);
}

const MISSING: CallCost = Object.freeze({ inputUsd: 0, outputUsd: 0, totalUsd: 0, priceMissing: true });

/** A deployment's prices over time, oldest first: the last entry whose start has passed applies, else the first. */
type Schedule = ReadonlyArray<{ readonly from?: number; readonly price: ModelPrice }>;

interface Overrides {
  readonly input?: number;
  readonly output?: number;
  readonly cacheRead?: number;
  readonly cacheWrite?: number;
  readonly perRequest?: number;
}

/**
 * A price table for the config's deployments (resolved now, so the package is searched at
 * startup and never on the request path). Other Deployment objects are resolved on first use.
 */
export function createPriceTable(deployments: Iterable<Deployment>, options: PriceTableOptions = {}): PriceTable {
  const now = options.now ?? Date.now;
  const resolved = new WeakMap<Deployment, Schedule | null>();
  const all = [...deployments];

  function scheduleOf(dep: Deployment): Schedule | null {
    let schedule = resolved.get(dep);
    if (schedule === undefined) {
      schedule = resolve(dep, options.logger);
      resolved.set(dep, schedule);
    }
    return schedule;
  }

  function priceOf(dep: Deployment, at?: number): ModelPrice | undefined {
    const schedule = scheduleOf(dep);
    if (schedule === null) return undefined;
    if (schedule.length === 1) return schedule[0]!.price;
    const t = at ?? now();
    for (let i = schedule.length - 1; i >= 0; i--) {
      const entry = schedule[i]!;
      if (entry.from === undefined || t >= entry.from) return entry.price;
    }
    return schedule[0]!.price;
  }

  /** Unrounded dollars, or undefined without a price. */
  function dollars(dep: Deployment, usage: Usage, at: number | undefined): { input: number; output: number } | undefined {
    const price = priceOf(dep, at);
    if (price === undefined) return undefined;
    const inputTokens = tokens(usage.inputTokens);
    const p = tierFor(price, inputTokens);
    const cached = Math.min(tokens(usage.cachedInputTokens), inputTokens);
    const written = Math.min(tokens(usage.cacheWriteTokens), inputTokens - cached);
    const outputTokens = tokens(usage.outputTokens);
    const reasoning = Math.min(tokens(usage.reasoningTokens), outputTokens);
    return {
      input: (inputTokens - cached - written) * p.input + cached * p.cacheRead + written * p.cacheWrite + price.perRequest,
      output: (outputTokens - reasoning) * p.output + reasoning * p.reasoning,
    };
  }

  for (const dep of all) scheduleOf(dep);

  return {
    version: `genai-prices@${packageVersion()}+${overridesHash(all)}`,
    priceOf,
    isPriced: (dep) => scheduleOf(dep) !== null,
    cost(dep, usage, at) {
      const d = dollars(dep, usage, at);
      if (d === undefined) return MISSING;
      return { inputUsd: pico(d.input), outputUsd: pico(d.output), totalUsd: pico(d.input + d.output), priceMissing: false };
    },
    costMicroUsd(dep, usage, at) {
      const d = dollars(dep, usage, at);
      return d === undefined ? 0 : microUsdCeil(d.input + d.output);
    },
  };
}

function resolve(dep: Deployment, logger: Logger | undefined): Schedule | null {
  const overrides = overridesOf(dep);
  let match: ReturnType<typeof lookUpPackagePrices>;
  try {
    match = lookUpPackagePrices(dep);
  } catch (error) {
    logger?.warn('price lookup failed: the deployment is priced by its config alone', { deployment: dep.id, error: (error as Error).message });
  }
  const names = overrideNames(overrides);
  const tokenPriced = (prices: PackagePrices) => prices.input !== undefined || prices.output !== undefined || overrides.input !== undefined || overrides.output !== undefined;
  // A match without token prices (an image- or audio-only model) prices nothing a chat call uses.
  if (match && match.schedule.every((s) => tokenPriced(s.prices))) {
    const id = match.id;
    return Object.freeze(match.schedule.map((s) => {
      const price = build(s.prices, overrides, id, names);
      return s.from === undefined ? { price } : { from: s.from, price };
    }));
  }
  if (overrides.input === undefined && overrides.output === undefined) return null;
  return Object.freeze([{ price: build({}, overrides, undefined, names) }]);
}

function overridesOf(dep: Deployment): Overrides {
  const o: { -readonly [K in keyof Overrides]: Overrides[K] } = {};
  if (dep.inputCostPerToken !== undefined) o.input = dep.inputCostPerToken;
  if (dep.outputCostPerToken !== undefined) o.output = dep.outputCostPerToken;
  if (dep.cacheReadInputTokenCost !== undefined) o.cacheRead = dep.cacheReadInputTokenCost;
  if (dep.cacheCreationInputTokenCost !== undefined) o.cacheWrite = dep.cacheCreationInputTokenCost;
  if (dep.inputCostPerRequest !== undefined) o.perRequest = dep.inputCostPerRequest;
  return o;
}

const OVERRIDE_NAMES: ReadonlyArray<[keyof Overrides, PriceOverride]> = [
  ['input', 'input_cost_per_token'],
  ['output', 'output_cost_per_token'],
  ['cacheRead', 'cache_read_input_token_cost'],
  ['cacheWrite', 'cache_creation_input_token_cost'],
  ['perRequest', 'input_cost_per_request'],
];

function overrideNames(o: Overrides): readonly PriceOverride[] {
  return Object.freeze(OVERRIDE_NAMES.filter(([field]) => o[field] !== undefined).map(([, name]) => name));
}

/** Package prices (per million tokens, maybe tiered) with the config's per-token overrides laid over them. */
function build(pkg: PackagePrices, o: Overrides, packageModel: string | undefined, overrides: readonly PriceOverride[]): ModelPrice {
  const tiered = (price: MtokPrice | undefined, overridden: boolean) => (!overridden && price !== undefined && typeof price === 'object' ? price.tiers.map((t) => t.start) : []);
  const starts = [...new Set([
    ...tiered(pkg.input, o.input !== undefined),
    ...tiered(pkg.output, o.output !== undefined),
    ...tiered(pkg.cacheRead, o.cacheRead !== undefined),
    ...tiered(pkg.cacheWrite, o.cacheWrite !== undefined),
    ...tiered(pkg.reasoning, o.output !== undefined),
  ])].sort((a, b) => a - b);

  /** The prices of a call with more than `above` input tokens (undefined: the base prices). */
  const at = (above: number | undefined): TokenPrices => {
    const pick = (override: number | undefined, price: MtokPrice | undefined) => (override !== undefined ? override : price === undefined ? undefined : perToken(price, above));
    const input = pick(o.input, pkg.input) ?? 0;
    const output = pick(o.output, pkg.output) ?? 0;
    return {
      input,
      output,
      cacheRead: pick(o.cacheRead, pkg.cacheRead) ?? input,
      cacheWrite: pick(o.cacheWrite, pkg.cacheWrite) ?? input,
      reasoning: o.output !== undefined ? output : pick(undefined, pkg.reasoning) ?? output,
    };
  };

  return Object.freeze({
    ...at(undefined),
    perRequest: o.perRequest ?? pkg.perRequest ?? 0,
    tiers: Object.freeze(starts.map((start) => Object.freeze({ aboveInputTokens: start, ...at(start) }))),
    packageModel,
    overrides,
  });
}

/** USD per token of a per-million price, for a call with more than `above` input tokens (a tier applies when the count exceeds its start). */
function perToken(price: MtokPrice, above: number | undefined): number {
  if (typeof price === 'number') return price / 1e6;
  let mtok = price.base;
  if (above !== undefined) for (const tier of price.tiers) if (tier.start <= above) mtok = tier.price;
  return mtok / 1e6;
}

function tierFor(price: ModelPrice, inputTokens: number): TokenPrices {
  let p: TokenPrices = price;
  for (const tier of price.tiers) if (inputTokens > tier.aboveInputTokens) p = tier;
  return p;
}

/** A token count: finite and positive, else 0. */
function tokens(n: number): number {
  return Number.isFinite(n) && n > 0 ? n : 0;
}

/** Dollars rounded to 1e-12 (a millionth of a micro-dollar), so sums print as they should (0.00021, not 0.00020999999999999998). */
function pico(usd: number): number {
  return Math.round(usd * 1e12) / 1e12;
}

/** A short stable hash of every deployment's price overrides (ids sorted, fields in a fixed order). */
function overridesHash(deployments: readonly Deployment[]): string {
  const rows = deployments
    .map((dep) => {
      const o = overridesOf(dep);
      return [dep.id, OVERRIDE_NAMES.filter(([field]) => o[field] !== undefined).map(([field, name]) => [name, o[field]])] as const;
    })
    .filter(([, fields]) => fields.length > 0)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return createHash('sha256').update(JSON.stringify(rows)).digest('hex').slice(0, 8);
}
